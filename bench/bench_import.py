"""Importer and exporter figures of issue 4, each against the raw component measured in
the same run, on private stacks with the same slapd settings (`stack up`'s: mdb, fsync on).

    python -m bench.bench_import --work bench/out/import --dataset bench/data/full-hashed \\
        [--plain-dataset bench/data/full-plain --plain-slices 16 --max-plain-slices 3] \\
        [--slices 8] [--out bench/out/import.json]

Data sets: `python -m mailgothai.datagen --out DIR --passwords hashed` (and `plain`).

The machine is shared and noisy, so each comparison is interleaved: the file is cut in
slices, and slice by slice (alternating which goes first) the raw component and the
importer each do the same rows, on two stacks that hold the same entries at every step.
  hashed   `ldapadd` of the slice as LDIF (the directory layer's own entry mapping, bound as
           the application's DN like the importer) vs `mailgothai import` of the slice;
  plain    raw argon2id hashing of as many passwords (the configured parameters, one
           process per core, batches as the importer sends them) vs `mailgothai import`;
  dry run  `mailgothai import --dry-run` of the whole file: before the import (all new)
           and after it (all unchanged);
  export   `mailgothai export --all`;
  RSS      peak resident memory of each `mailgothai` process (VmHWM, sampled);
  CPU      slapd's CPU seconds during each side (from /proc), to see where time goes.
Results are written to --out after every step. Every stack it starts is stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.load_dataset import read_accounts, read_domains
from mailgothai.core.csvimport.hashing import hash_many
from mailgothai.core.passwords import Argon2Params
from mailgothai.directory import accounts as account_entries
from mailgothai.directory.layout import Layout
from mailgothai.directory.ldif import entry_ldif
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager, slapd
from mailgothai.stack.process import read_pid

PORTS = ("ldap_port", "imap_port", "imaps_port", "lmtp_port", "smtp_port", "submission_port", "smtps_port", "web_port",
         "auth_policy_port", "managesieve_port")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_stack(folder: Path) -> Settings:
    shutil.rmtree(folder, ignore_errors=True)
    base = load_settings(data_dir=folder, environ={})
    settings = manager.up(base.replace(protection=0, **{p: free_port() for p in PORTS if hasattr(base, p)})).settings
    # Only slapd (and Dovecot, for cache flushes) take part: the admin web's background
    # quota refresher would query slapd and Dovecot all along and skew both sides.
    for service in ("WEB", "RELAY"):
        if hasattr(manager, service):
            getattr(manager, service).stop(settings)
    return settings


def slapd_cpu(settings: Settings) -> float:
    pid = read_pid(slapd.paths_for(settings).pid_file)
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cli(settings: Settings, *args: str) -> dict[str, Any]:
    """`mailgothai ARGS` against the stack: wall time, exit code, the process's peak RSS, slapd CPU."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    cpu = slapd_cpu(settings)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(settings.data_dir),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    peak = [0]

    def watch() -> None:
        # VmHWM of the child's own memory: wait4's ru_maxrss would also count this
        # (large) process's memory, which a child keeps in its accounting across exec.
        status_file = Path(f"/proc/{proc.pid}/status")
        while True:
            try:
                text = status_file.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
            if "State:\tZ" in text:
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = proc.stdout.read().decode("utf-8", "replace")
    watcher.join(timeout=5)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.stdout.close()
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 2), "exit": os.waitstatus_to_exitcode(status),
            "peak_rss_mb": round(peak[0] / 1024, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "slapd_cpu_s": round(slapd_cpu(settings) - cpu, 1), "stdout_tail": out.strip().splitlines()[-3:]}


def cut(dataset: Path, work: Path, slices: int, settings: Settings) -> list[tuple[Path, Path, int]]:
    """The accounts file cut into `slices` CSV files and the same rows as LDIF files."""
    with open(dataset / "accounts.csv", newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    layout = Layout(settings.ldap_base)
    domains = read_domains(dataset / "domains.csv")
    size = -(-len(rows) // slices)
    out = []
    for i in range(slices):
        part = rows[i * size:(i + 1) * size]
        csv_path, ldif_path = work / f"slice{i}.csv", work / f"slice{i}.ldif"
        with open(csv_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(part)
        with open(ldif_path, "w", encoding="ascii") as fh:
            for account, password_hash in read_accounts(csv_path, domains, "{CRYPT}x"):
                fh.write(entry_ldif(account_entries.account_entry(layout.account(account.email), account,
                                                                  password_hash)))
        out.append((csv_path, ldif_path, len(part)))
    return out


def ldapadd(settings: Settings, ldif: Path) -> dict[str, float]:
    secret = settings.data_dir / "bench-app-password"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(str(settings.ldap_app_password))  # -y: no password on the command line
    cpu = slapd_cpu(settings)
    started = time.monotonic()
    subprocess.run(["ldapadd", "-x", "-H", settings.ldap_uri_list[0], "-D", settings.ldap_app_dn,
                    "-y", str(secret), "-f", str(ldif)], check=True, stdout=subprocess.DEVNULL)
    return {"seconds": round(time.monotonic() - started, 2), "slapd_cpu_s": round(slapd_cpu(settings) - cpu, 1)}


def raw_hashing(params: Argon2Params, n: int) -> float:
    """Seconds to hash n passwords with argon2id, one process per core, batches of 8."""
    workers = os.cpu_count() or 1
    batches = [[f"Raw-pass-{i}-{j}" for j in range(8)] for i in range(-(-n // 8))]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(hash_many, [params] * workers, [["warm-up-pass"]] * workers))
        started = time.monotonic()
        list(pool.map(hash_many, [params] * len(batches), batches))
        return time.monotonic() - started


class Report:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {"cpus": os.cpu_count(), "slapd": "stack up's: mdb, fsync on (no olcDbNoSync)"}

    def save(self) -> None:
        if self.path is not None:
            self.path.write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")


def compare_hashed(args: argparse.Namespace, report: Report, stacks: list[Settings]) -> None:
    raw, imp = fresh_stack(args.work / "raw"), fresh_stack(args.work / "import")
    stacks += [raw, imp]
    for s in (raw, imp):
        run_cli(s, "import-domains", str(args.dataset / "domains.csv"))
    report.data["dry_run_all_new"] = run_cli(imp, "import", str(args.dataset / "accounts.csv"), "--dry-run")
    report.save()
    pieces = cut(args.dataset, args.work, args.slices, imp)[:args.max_slices or None]
    side: dict[str, dict[str, float]] = {"ldapadd": {}, "import": {}}
    slices = report.data["hashed_slices"] = []
    for i, (csv_path, ldif_path, rows) in enumerate(pieces):
        order = ("ldapadd", "import") if i % 2 == 0 else ("import", "ldapadd")
        entry: dict[str, Any] = {"rows": rows}
        for name in order:
            result = ldapadd(raw, ldif_path) if name == "ldapadd" else run_cli(imp, "import", str(csv_path))
            if name == "import" and result["exit"] != 0:
                raise SystemExit(f"the import of slice {i} failed: {result['stdout_tail']}")
            entry[name] = {k: v for k, v in result.items() if k != "stdout_tail"}
            for key in ("seconds", "slapd_cpu_s"):
                side[name][key] = side[name].get(key, 0.0) + float(result[key])
        entry["ratio"] = round(entry["ldapadd"]["seconds"] / entry["import"]["seconds"], 3)
        slices.append(entry)
        csv_path.unlink()
        ldif_path.unlink()
        rows_done = sum(s["rows"] for s in slices)
        report.data["hashed"] = {
            "rows": rows_done,
            "ldapadd_per_s": round(rows_done / side["ldapadd"]["seconds"], 1),
            "import_per_s": round(rows_done / side["import"]["seconds"], 1),
            "ratio_import_vs_ldapadd": round(side["ldapadd"]["seconds"] / side["import"]["seconds"], 3),
            "slapd_cpu_ms_per_row": {k: round(1000 * v["slapd_cpu_s"] / rows_done, 2) for k, v in side.items()},
            "import_peak_rss_mb": max(s["import"]["peak_rss_mb"] for s in slices),
        }
        report.save()
    manager.down(raw)
    report.data["dry_run_all_unchanged"] = run_cli(imp, "import", str(args.dataset / "accounts.csv"), "--dry-run")
    report.save()
    export_file = args.work / "export.csv"
    report.data["export_all"] = run_cli(imp, "export", "--all", "-o", str(export_file))
    report.data["export_all"]["accounts"] = sum(1 for _ in open(export_file, encoding="utf-8-sig")) - 1
    export_file.unlink()
    report.save()
    manager.down(imp)


def compare_plain(args: argparse.Namespace, report: Report, stacks: list[Settings]) -> None:
    plain = fresh_stack(args.work / "plain")
    stacks.append(plain)
    params = Argon2Params.from_settings(plain)
    run_cli(plain, "import-domains", str(args.plain_dataset / "domains.csv"))
    pieces = cut(args.plain_dataset, args.work, args.plain_slices, plain)[:args.max_plain_slices or None]
    raw_s = import_s = 0.0
    rows_done = 0
    slices = report.data["plain_slices"] = []
    for i, (csv_path, ldif_path, rows) in enumerate(pieces):
        ldif_path.unlink()
        order = ("raw", "import") if i % 2 == 0 else ("import", "raw")
        entry: dict[str, Any] = {"rows": rows}
        for name in order:
            if name == "raw":
                entry["raw_argon2_s"] = round(raw_hashing(params, rows), 2)
            else:
                result = run_cli(plain, "import", str(csv_path))
                entry["import"] = {k: v for k, v in result.items() if k != "stdout_tail"}
        raw_s += entry["raw_argon2_s"]
        import_s += entry["import"]["seconds"]
        rows_done += rows
        slices.append(entry)
        csv_path.unlink()
        report.data["plain"] = {
            "rows": rows_done,
            "argon2": f"argon2id t={params.time_cost} m={params.memory_kib} KiB p={params.parallelism}",
            "raw_argon2_per_s": round(rows_done / raw_s, 1), "import_per_s": round(rows_done / import_s, 1),
            "ratio_import_vs_raw_argon2": round(raw_s / import_s, 3),
            "import_peak_rss_mb": max(s["import"]["peak_rss_mb"] for s in slices),
        }
        report.save()
    manager.down(plain)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the stacks (emptied first)")
    ap.add_argument("--dataset", type=Path, help="a --passwords hashed data set")
    ap.add_argument("--plain-dataset", type=Path, help="a --passwords plain data set")
    ap.add_argument("--slices", type=int, default=8)
    ap.add_argument("--max-slices", type=int, default=0, help="stop the hashed comparison after this many slices")
    ap.add_argument("--plain-slices", type=int, default=4)
    ap.add_argument("--max-plain-slices", type=int, default=0,
                    help="stop the plain-password comparison after this many slices (of --plain-slices)")
    ap.add_argument("--out", type=Path, help="write the results here (JSON) after every step")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    report = Report(args.out)
    stacks: list[Settings] = []
    try:
        if args.dataset is not None:
            compare_hashed(args, report, stacks)
        if args.plain_dataset is not None:
            compare_plain(args, report, stacks)
    finally:
        for settings in stacks:
            manager.down(settings)
    print(json.dumps(report.data, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
