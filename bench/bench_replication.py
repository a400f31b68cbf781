"""Replication: lag on provider B while accounts are imported on A, and what
replication costs the import, beside what it costs raw `ldapadd` in the same run.

    .venv/bin/python -m bench.bench_replication --work bench/out/replication --accounts 20000

Four fresh stacks in turn (one provider, then two replicating providers; in each, one
set imported with `mailgothai import`, one disjoint set of the same size loaded with
`ldapadd` from the equivalent LDIF, both as the application's own DN under the same
ACLs and slapd settings). Lag is read from the providers' contextCSN: every 20 ms the
newest CSN that A wrote is noted, and a sample is the time until B holds it.
Data: the project's own generator (`python -m mailgothai.datagen`), pre-hashed passwords.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import ldap3

from bench.load_dataset import BENCH_PASSWORD, read_accounts, read_domains
from bench.stats import percentile
from mailgothai.core.passwords import Argon2Params, hash_password
from mailgothai.directory import accounts as account_entries
from mailgothai.directory.layout import Layout
from mailgothai.directory.ldif import entry_ldif
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def generate(out: Path, tag: str, seed: int, accounts: int, domains: int) -> Path:
    target = out / f"data-{tag}"
    if not (target / "accounts.csv").exists():
        subprocess.run([sys.executable, "-m", "mailgothai.datagen", "--out", str(target), "--size", "medium",
                        "--domains", str(domains), "--accounts", str(accounts), "--passwords", "hashed",
                        "--tag", tag, "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    return target


def accounts_ldif(dataset: Path, settings: Settings, out: Path) -> int:
    """The accounts of a data set as LDIF entries, exactly as the directory layer writes them."""
    layout = Layout(settings.ldap_base)
    fallback = hash_password(BENCH_PASSWORD, Argon2Params(1, 1024, 1))
    domains = read_domains(dataset / "domains.csv")
    count = 0
    with open(out, "w", encoding="ascii") as fh:
        for account, password_hash in read_accounts(dataset / "accounts.csv", domains, fallback):
            fh.write(entry_ldif(account_entries.account_entry(layout.account(account.email), account, password_hash)))
            count += 1
    return count


def cli(settings: Settings, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(settings.data_dir), *args],
                   check=True, stdout=subprocess.DEVNULL)


def newest_csn(uri: str, settings: Settings, sid: str) -> str:
    conn = ldap3.Connection(ldap3.Server(uri), settings.ldap_manager_dn, settings.ldap_manager_password,
                            auto_bind=True)
    try:
        conn.search(settings.ldap_base, "(objectClass=*)", ldap3.BASE, attributes=["contextCSN"])
        values = [str(v) for v in conn.entries[0]["contextCSN"].values] if conn.entries else []
        return max((v for v in values if v.split("#")[2] == sid), default="")
    finally:
        conn.unbind()


class LagSampler(threading.Thread):
    """Notes A's newest CSN every 20 ms and times how long B takes to hold it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.a, self.b = settings.ldap_uri_list[0], settings.ldap_uri_list[1]
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        pending: list[tuple[float, str]] = []
        last_a = ""
        while not self.stop.is_set() or pending:
            now = time.perf_counter()
            csn_a = newest_csn(self.a, self.settings, "001")
            if csn_a and csn_a != last_a:
                pending.append((now, csn_a))
                last_a = csn_a
            csn_b = newest_csn(self.b, self.settings, "001")
            seen = time.perf_counter()
            while pending and pending[0][1] <= csn_b:
                self.samples.append(seen - pending.pop(0)[0])
            if self.stop.is_set() and pending and seen - pending[0][0] > 120:
                break  # B never caught up: report what was seen
            time.sleep(0.02)


def run_mode(work: Path, providers: int, import_set: Path, ldapadd_set: Path) -> dict[str, object]:
    data_dir = work / f"stack-{providers}"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = load_settings(data_dir=data_dir, environ={}).replace(
        protection=0, ldap_providers=providers, ldap_provider_ports=tuple(free_port() for _ in range(providers)),
        imap_port=free_port(), imaps_port=free_port(), lmtp_port=free_port(), smtp_port=free_port(),
        submission_port=free_port(),
        smtps_port=0, web_port=free_port(), auth_policy_port=free_port(), managesieve_port=free_port())
    settings = manager.up(settings).settings
    # Only slapd and Dovecot take part (as in bench_import): the admin web's quota refresher
    # and the relay would query slapd all along and skew both sides.
    for service in (manager.WEB, manager.RELAY):
        service.stop(settings)
    try:
        for dataset in (import_set, ldapadd_set):
            cli(settings, "import-domains", str(dataset / "domains.csv"))
        ldif = work / f"ldapadd-{providers}.ldif"
        entries = accounts_ldif(ldapadd_set, settings, ldif)
        result: dict[str, object] = {"providers": providers}

        sampler = LagSampler(settings) if providers > 1 else None
        if sampler:
            sampler.start()
        started = time.perf_counter()
        subprocess.run(["ldapadd", "-x", "-c", "-H", settings.ldap_uri_list[0], "-D", settings.ldap_app_dn,
                        "-w", settings.ldap_app_password, "-f", str(ldif)], check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        result["ldapadd_per_s"] = round(entries / elapsed, 1)
        if sampler:
            sampler.stop.set()
            sampler.join()
            result["ldapadd_lag"] = lag_summary(sampler.samples)

        sampler = LagSampler(settings) if providers > 1 else None
        if sampler:
            sampler.start()
        started = time.perf_counter()
        cli(settings, "import", str(import_set / "accounts.csv"))
        elapsed = time.perf_counter() - started
        rows = sum(1 for _ in open(import_set / "accounts.csv", encoding="utf-8-sig")) - 1
        result["import_per_s"] = round(rows / elapsed, 1)
        if sampler:
            sampler.stop.set()
            sampler.join()
            result["import_lag"] = lag_summary(sampler.samples)
        ldif.unlink()
        return result
    finally:
        manager.down(settings)


def lag_summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    return {"n": len(samples), "p50_ms": round(percentile(samples, 50) * 1000, 1),
            "p95_ms": round(percentile(samples, 95) * 1000, 1), "max_ms": round(max(samples) * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("bench/out/replication"))
    ap.add_argument("--accounts", type=int, default=20000)
    ap.add_argument("--domains", type=int, default=20)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.work = args.work.resolve()
    runs = []
    for providers in (1, 2):
        # Fresh, disjoint sets for every stack: nothing is ever added twice.
        import_set = generate(args.work, f"imp{providers}", 10 + providers, args.accounts, args.domains)
        ldapadd_set = generate(args.work, f"raw{providers}", 20 + providers, args.accounts, args.domains)
        runs.append(run_mode(args.work, providers, import_set, ldapadd_set))
        print(json.dumps(runs[-1]), flush=True)
    single, double = runs
    ldapadd_ratio = float(double["ldapadd_per_s"]) / float(single["ldapadd_per_s"])  # type: ignore[arg-type]
    import_ratio = float(double["import_per_s"]) / float(single["import_per_s"])  # type: ignore[arg-type]
    print(json.dumps({
        "ldapadd_replicated_over_single": round(ldapadd_ratio, 3),
        "import_replicated_over_single": round(import_ratio, 3),
        "import_ratio_over_ldapadd_ratio": round(import_ratio / ldapadd_ratio, 3),
        "target": ">= 0.9",
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
