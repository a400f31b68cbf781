"""What an account add costs slapd alone and inside LDAP transactions of several sizes.

    python -m bench.bench_ldap_transactions --work bench/out/txn --dataset bench/data/plain-12k \\
        [--rows 3000] [--sizes 1 16 64 256]

For each size, a fresh stack (`stack up`'s slapd settings: mdb, fsync on, the project's
indexes; web and relay stopped) gets the domains of the data set and then the same first
`--rows` accounts as the application's DN: one add per operation for size 1 (ldap3's
own add), else `Gateway.add_all` transactions of that many (what the importer does).
Reported: wall time, slapd's CPU (user and system) per add.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench.bench_import import fresh_stack, run_cli
from bench.load_dataset import read_accounts, read_domains
from mailgothai.directory import accounts as account_entries
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.stack import manager, slapd
from mailgothai.stack.process import read_pid


def slapd_times(settings: object) -> tuple[float, float]:
    pid = read_pid(slapd.paths_for(settings).pid_file)  # type: ignore[arg-type]
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def measure(work: Path, dataset: Path, rows: int, size: int) -> dict[str, float]:
    settings = fresh_stack(work / f"size{size}")
    try:
        run_cli(settings, "import-domains", str(dataset / "domains.csv"))
        new = []
        for account, password_hash in read_accounts(dataset / "accounts.csv", read_domains(dataset / "domains.csv"),
                                                    "{CRYPT}x"):
            new.append((account, password_hash))
            if len(new) == rows:
                break
        gateway = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password)
        layout = Layout(settings.ldap_base)
        directory = account_entries.AccountDirectory(gateway, layout)
        user0, system0 = slapd_times(settings)
        started = time.monotonic()
        for start in range(0, len(new), size):
            part = new[start:start + size]
            if size == 1:
                directory.create(*part[0])
            else:
                directory.create_all(part)
        seconds = time.monotonic() - started
        user1, system1 = slapd_times(settings)
        gateway.close()
        return {"adds_per_transaction": size, "adds": len(new), "seconds": round(seconds, 2),
                "slapd_cpu_ms_per_add": round(1000 * (user1 - user0 + system1 - system0) / len(new), 2),
                "slapd_user_ms_per_add": round(1000 * (user1 - user0) / len(new), 2),
                "slapd_system_ms_per_add": round(1000 * (system1 - system0) / len(new), 2)}
    finally:
        manager.down(settings)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64, 256])
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = [measure(args.work, args.dataset, args.rows, size) for size in args.sizes]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
