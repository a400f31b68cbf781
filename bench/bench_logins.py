"""IMAP logins per second through one Dovecot node against the directory: plain IMAP,
IMAP over implicit TLS (imaps) and STARTTLS, in one run on the same data.

    .venv/bin/python -m bench.bench_logins --work bench/out/logins --users 200 --clients 4 --seconds 20
    .venv/bin/python -m bench.bench_logins --work bench/out/logins --dataset bench/data/full --rounds 3

A fresh stack with the service's real (OWASP) argon2id cost. Without `--dataset`, `--users`
accounts are made in an otherwise empty directory; with it, the generated set (`python -m
mailgothai.datagen --passwords hashed`, e.g. bench/data/full: 207,074 accounts) is loaded
offline first (bench/load_dataset.py) and `--users` of its accounts, spread over the whole
file, log in with the plain text behind their pre-hashed password (the generator's pool).

Each login is LOGIN, SELECT INBOX, LOGOUT on a new connection, from `--clients` parallel
processes, every connection new (a TLS handshake each: the worst case; real clients keep
theirs open). Two figures per variant: every user once right after Dovecot's auth cache was
flushed (cold: slapd verifies the argon2id hash each time) and the same users again for
`--seconds` (warm). Variants are interleaved, their order rotated each round; the figure
is the median of `--rounds`, and the ratios TLS / plain are taken within the run.

With `--compare-password-checks`, each variant is measured twice in every round: with
issue 20's check in Dovecot's passdb (mgtMustChangePassword -> nologin with its reason,
`imap_password_checks = 1`, the default) and without it (`= 0`), Dovecot's configuration
rewritten and reloaded between them, their order rotated; the ratio on / off is taken
within the run (none of the measured users is marked: the check's cost is one more
attribute read and mapped per lookup, which is what every login pays).

Plain IMAP is from 127.0.0.1 to 127.0.0.1, which Dovecot counts as secured (this host);
from anywhere else it refuses a password before TLS (`disable_plaintext_auth`).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import time
from dataclasses import fields
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from imapclient import IMAPClient

from mailgothai.core.models import Role
from mailgothai.datagen.generate import HASH_POOL, pool_password
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import dovecot, manager

PASSWORD = "Bench-login-pass-1"
DOMAIN = "logins.bench.go.th"
VARIANTS = ("plain", "imaps", "starttls")

Login = tuple[str, str]  # (address, password)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect(variant: str, host: str, ports: dict[str, int], context: ssl.SSLContext) -> IMAPClient:
    if variant == "imaps":
        return IMAPClient(host, port=ports["imaps"], ssl=True, ssl_context=context, timeout=30)
    client = IMAPClient(host, port=ports["imap"], ssl=False, timeout=30)
    if variant == "starttls":
        client.starttls(context)
    return client


def login_loop(args: tuple[str, str, dict[str, int], str, list[Login], float]) -> int:
    """Log the users in one after another; seconds=0: exactly once each, else until time is up."""
    variant, host, ports, cafile, logins, seconds = args
    context = ssl.create_default_context(cafile=cafile)  # verifies the stack's certificate
    done = 0
    deadline = time.monotonic() + seconds
    while True:
        for user, password in logins:
            client = connect(variant, host, ports, context)
            client.login(user, password)
            client.select_folder("INBOX")
            client.logout()
            done += 1
            if seconds and time.monotonic() >= deadline:
                return done
        if not seconds:
            return done


def measure(settings: Settings, variant: str, logins: list[Login], clients: int, seconds: float) -> float:
    ports = {"imap": settings.imap_port, "imaps": settings.imaps_port}
    shares = [logins[i::clients] for i in range(clients)]
    jobs = [(variant, settings.host, ports, str(settings.tls_cert_path), share, seconds) for share in shares]
    with multiprocessing.Pool(clients) as pool:
        started = time.monotonic()  # the pool's processes are running by now
        total = sum(pool.map(login_loop, jobs))
        return total / (time.monotonic() - started)


def own_accounts(settings: Settings, count: int) -> list[Login]:
    users = [f"user{n}@{DOMAIN}" for n in range(count)]
    with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as services:
        services.domains.add(DOMAIN)
        for user in users:
            services.accounts.add(user, PasswordInput(plain=PASSWORD))
    return [(user, PASSWORD) for user in users]


# The plain texts behind the pre-hashed pools of the two generators of data sets: the
# project's (mailgothai/datagen) and the shared one that wrote bench/data/full.
POOL_FAMILIES = (pool_password, lambda i: f"Pool-{i}-pass")


def _pool_plain(job: tuple[str, tuple[int, ...]]) -> str:
    stored, families = job
    hasher = PasswordHasher()
    for i in range(HASH_POOL):
        for family in families:
            candidate = POOL_FAMILIES[family](i)
            try:
                hasher.verify(stored.removeprefix("{ARGON2}"), candidate)
                return candidate
            except VerificationError:
                continue
    raise ValueError(f"a hash from neither generator's pool: {stored[:40]}…")


def dataset_accounts(dataset: Path, count: int) -> list[Login]:
    """`count` active accounts spread evenly over the file, with their plain passwords."""
    with open(dataset / "accounts.csv", newline="", encoding="utf-8-sig") as fh:
        rows = [(r["email"].lower(), r["password"]) for r in csv.DictReader(fh)
                if (r.get("status") or "active") == "active" and r["password"].startswith("{ARGON2}")]
    step = max(1, len(rows) // count)
    chosen = rows[::step][:count]
    hashes = sorted({stored for _, stored in chosen})
    first = _pool_plain((hashes[0], tuple(range(len(POOL_FAMILIES)))))
    family = next(n for n, f in enumerate(POOL_FAMILIES) if first in {f(i) for i in range(HASH_POOL)})
    with multiprocessing.Pool(os.cpu_count() or 1) as pool:
        plain = dict(zip(hashes, pool.map(_pool_plain, [(h, (family,)) for h in hashes]), strict=True))
    return [(email, plain[stored]) for email, stored in chosen]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("bench/out/logins"))
    ap.add_argument("--dataset", type=Path, help="a generated set (--passwords hashed) to load first")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="of " + ",".join(VARIANTS))
    ap.add_argument("--compare-password-checks", action="store_true",
                    help="each variant with and without issue 20's passdb check (imap_password_checks 1 / 0)")
    ap.add_argument("--imap-upgrade-hashes", type=int, choices=(0, 1), default=1,
                    help="0: without Dovecot's post-login script (the setting imap_upgrade_hashes)")
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    assert set(variants) <= set(VARIANTS), variants
    data_dir = args.work.resolve() / "stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    ports = {f.name: free_port() for f in fields(Settings) if f.name.endswith("_port")}  # every listener
    settings = load_settings(data_dir=data_dir, environ={}).replace(
        **(ports | {"smtps_port": 0}), protection=0, auth_cache_ttl=3600, imap_upgrade_hashes=args.imap_upgrade_hashes)
    result: dict[str, object] = {"load_average_at_start": os.getloadavg(), "cpus": os.cpu_count()}
    if args.dataset:
        from bench.load_dataset import load_into
        settings = manager.prepare(settings)
        result["dataset"] = {"path": str(args.dataset), **load_into(settings, args.dataset)}
    else:
        settings = manager.up(settings).settings
    for service in (manager.WEB, manager.RELAY):  # only slapd and Dovecot take part
        service.stop(settings)
    try:
        logins = dataset_accounts(args.dataset, args.users) if args.dataset else own_accounts(settings, args.users)
        flush = ["doveadm", "-c", str(settings.dovecot_config), "auth", "cache", "flush"]
        checks = (1, 0) if args.compare_password_checks else (settings.imap_password_checks,)
        runs = [(v, c) for v in variants for c in checks]
        name = {(v, c): f"{v}+checks" if c and len(checks) > 1 else f"{v}-checks" if len(checks) > 1 else v
                for v, c in runs}
        cold: dict[str, list[float]] = {name[r]: [] for r in runs}
        warm: dict[str, list[float]] = {name[r]: [] for r in runs}
        result["load_average_at_measuring"] = os.getloadavg()
        current = settings.imap_password_checks
        for n in range(args.rounds):
            order = runs[n % len(runs):] + runs[:n % len(runs)]
            for variant, check in order:
                if check != current:  # issue 20's passdb check on or off: Dovecot rewritten and reloaded
                    dovecot.write_config(settings.replace(imap_password_checks=check))
                    subprocess.run(["doveadm", "-c", str(settings.dovecot_config), "reload"], check=True,
                                   capture_output=True)
                    time.sleep(2)  # the auth process restarts with the new passdb
                    current = check
                subprocess.run(flush, check=True, capture_output=True)  # cold: the next logins go to slapd
                cold[name[(variant, check)]].append(measure(settings, variant, logins, args.clients, 0))
                warm[name[(variant, check)]].append(measure(settings, variant, logins, args.clients, args.seconds))
        result["load_average_at_end"] = os.getloadavg()

        def median(runs: dict[str, list[float]]) -> dict[str, float]:
            return {v: round(statistics.median(r), 1) for v, r in runs.items()}

        cold_median, warm_median = median(cold), median(warm)
        result.update({
            "argon2": {"t": settings.argon2_time_cost, "m_kib": settings.argon2_memory_kib,
                       "p": settings.argon2_parallelism},
            "clients": args.clients, "users": len(logins), "rounds": args.rounds, "warm_seconds": args.seconds,
            "imap_upgrade_hashes": settings.imap_upgrade_hashes,
            "cold_logins_per_s": {v: [round(x, 1) for x in r] for v, r in cold.items()},
            "warm_logins_per_s": {v: [round(x, 1) for x in r] for v, r in warm.items()},
            "cold_median": cold_median, "warm_median": warm_median,
        })
        if len(checks) > 1:
            result["ratio_checks_on_to_off"] = {
                v: {"cold": round(cold_median[f"{v}+checks"] / cold_median[f"{v}-checks"], 3),
                    "warm": round(warm_median[f"{v}+checks"] / warm_median[f"{v}-checks"], 3)} for v in variants}
        elif "plain" in variants:
            result["ratio_to_plain"] = {
                v: {"cold": round(cold_median[v] / cold_median["plain"], 3),
                    "warm": round(warm_median[v] / warm_median["plain"], 3)}
                for v in variants if v != "plain"}
        print(json.dumps(result))
    finally:
        manager.down(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
