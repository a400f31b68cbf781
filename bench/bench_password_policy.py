"""What the password policy (issue 20) costs the import's validation, in this process.

1. The data set's rows (pre-hashed: the full set at bench/data/full) parsed and planned as
   the dry run does (core/csvimport, no directory: every row a new account), with the
   Planner given the domains' password policy and without it, interleaved rounds; the CPU
   time of each (process_time: the machine is shared). Pre-hashed rows cannot be checked
   and skip the policy: the ratio should be 1.
2. The check of one plain password (core/password_policy.problems, zxcvbn included) and
   the drawing of one generated password that meets the floor, per password.

    .venv/bin/python -m bench.bench_password_policy [--data bench/data/full] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from mailgothai.core.csvimport import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
    Planner,
    RowResult,
    detect_format,
    map_header,
    parse_account_row,
    read_records,
)
from mailgothai.core.password_policy import PasswordPolicy, Person, generate_for, problems
from mailgothai.datagen.generate import _Passwords
from tests.importer.helpers import domains_of


def plan_all(path: Path, planner: Planner) -> tuple[int, float]:
    rows = 0
    started = time.process_time()
    with open(path, "rb") as fh:
        fmt = detect_format(fh)
        header_cells, records = read_records(fh, fmt)
        header = map_header(header_cells, ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
        for record in records:
            parsed = parse_account_row(record, header)
            if not isinstance(parsed, RowResult):
                planner.plan(parsed, {})
            rows += 1
    return rows, time.process_time() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("bench/data/full"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    domains = domains_of(args.data, "utf-8")
    floor = PasswordPolicy()
    times: dict[str, list[float]] = {"without": [], "with": []}
    rows = 0
    for _ in range(args.rounds):
        for name in ("without", "with"):
            planner = Planner(domains, password_policy=(lambda d: floor) if name == "with" else None)
            rows, seconds = plan_all(args.data / "accounts.csv", planner)
            times[name].append(seconds)
    without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
    print(f"{rows:,} rows parsed and planned, median CPU of {args.rounds}: without the policy {without:.2f} s, "
          f"with it {with_:.2f} s, ratio {with_ / without:.3f}")

    passwords = _Passwords("plain", random.Random(1), (1, 8))
    plain = [passwords.plain() for _ in range(5000)]
    person = Person("somchai.j@agency.go.th", "สมชาย", "ใจดี", "สมชาย ใจดี")
    started = time.process_time()
    refused = sum(1 for p in plain if problems(p, floor, person))
    check = (time.process_time() - started) / len(plain)
    started = time.process_time()
    for _ in range(5000):
        generate_for(floor, person)
    generate = (time.process_time() - started) / 5000
    print(f"one plain password checked: {check * 1e3:.2f} ms CPU ({refused} of {len(plain)} refused); "
          f"one generated: {generate * 1e3:.2f} ms CPU")


if __name__ == "__main__":
    main()
