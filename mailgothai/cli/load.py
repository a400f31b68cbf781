"""`mailgothai load ACCOUNTS.csv [--domains DOMAINS.csv]`: the offline first load of a whole
service, with the service stopped (stack/offline_load.py).

Exits 0 when loaded; 3 when rows are bad (listed: row, column, reason; nothing loaded,
unless --skip-bad); 2 for an unusable file; 1 when slapd runs, the directory already
holds accounts, or slapadd fails (nothing changed).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from mailgothai.core.csvimport import RowResult, guard
from mailgothai.services.actor import cli_operator
from mailgothai.settings import Settings
from mailgothai.stack import offline_load

EXIT_REJECTED = 3
SHOWN_BAD = 10


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = groups.add_parser(
        "load", help="first load of a whole service from CSV files, offline (slapadd), with the service stopped",
        description="Check the files as `import --dry-run` does, then load them with slapadd -q into a directory "
                    "that holds no account yet (its domains, e.g. from import-domains, are used), all or nothing, "
                    "with audit records. The service "
                    "(slapd) must be stopped. Plain passwords are hashed with argon2id (one process per core, "
                    "~85 a second on two cores): a file of stored hashes loads much faster.")
    cmd.add_argument("file", type=Path, help="accounts CSV in the import format (email,given_name,surname,"
                                             "display_name,password,quota,status,aliases,forward)")
    cmd.add_argument("--domains", type=Path,
                     help="domains CSV in the import-domains format (domain,description,max_accounts,quota,"
                          "default_quota): the domains the accounts need that the directory does not hold yet")
    cmd.add_argument("--dry-run", action="store_true",
                     help="check both files (and that slapd is stopped) and change nothing")
    cmd.add_argument("--must-change", action="store_true",
                     help="mark every account \"change at next login\" (as import --must-change); without it, as "
                          "each domain's password lifecycle says (by default: accounts whose password is generated)")
    cmd.add_argument("--skip-bad", action="store_true",
                     help="load the good rows and leave out the bad ones (default: any bad row stops the load)")
    cmd.add_argument("--report", type=Path, help="write the bad rows here (file,row,email,column,reason)")
    cmd.add_argument("--result", type=Path, help="also copy the result file (generated passwords) here")
    cmd.add_argument("--encoding", metavar="NAME", help="the files' encoding instead of detecting UTF-8 or cp874")
    cmd.add_argument("--keep-ldif", type=Path, metavar="PATH",
                     help="also write the LDIF given to slapadd here (owner-only; it holds password hashes)")
    cmd.set_defaults(handler=cmd_load, needs_services=False)


def _report(path: Path | None, bad: list[tuple[str, RowResult]]) -> None:
    for which, r in bad[:SHOWN_BAD]:
        print(f"  {which} row {r.row}: {r.column or 'row'}: {r.reason}", file=sys.stderr)
    if len(bad) > SHOWN_BAD:
        print(f"  ... {len(bad) - SHOWN_BAD} more" + (" in the report" if path else " (--report FILE lists them)"),
              file=sys.stderr)
    if path is None:
        return
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(("file", "row", "email", "column", "reason"))
        writer.writerows((which, r.row, guard(r.email), r.column, guard(r.reason)) for which, r in bad)
    print(f"report of {len(bad)} bad rows: {path}")


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    outcome = offline_load.load(
        settings, args.file, args.domains, actor=cli_operator().login, skip_bad=args.skip_bad, dry_run=args.dry_run,
        must_change=args.must_change,
        encoding=args.encoding, keep_ldif=args.keep_ldif, progress=lambda text: print(text, file=sys.stderr))
    plan = outcome.plan
    if plan.unknown_columns:
        print(f"unknown columns, not loaded: {', '.join(plan.unknown_columns)}")
    bad = [("domains", r) for r in plan.domain_bad] + [("accounts", r) for r in plan.bad]
    if bad:
        _report(args.report, bad)
    if not outcome.loaded:
        if bad:
            print(f"{len(bad)} bad rows: nothing loaded (fix them, or load the others with --skip-bad)")
            return EXIT_REJECTED
        if args.dry_run:
            print(f"dry run: {len(plan.rows)} accounts in {len(plan.domains)} domains would be loaded; nothing changed")
            return 0
        print("nothing to load")
        return 0
    print(f"{outcome.load_id}: loaded {len(plan.rows)} accounts in {len(plan.domains)} domains "
          f"({outcome.hashed - outcome.generated} passwords hashed, {outcome.generated} generated, "
          f"{len(plan.rows) - outcome.hashed} stored hashes kept; {outcome.must_change} to change their password at "
          "next login)" + (f"; {len(bad)} bad rows left out" if bad else ""))
    print("timings: " + ", ".join(f"{name[:-2]} {value:.1f} s" for name, value in outcome.timings.items()),
          file=sys.stderr)
    if outcome.result_file is not None:
        result = outcome.result_file
        if args.result is not None:
            fd = os.open(args.result, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(result.read_bytes())
            result = args.result
        print(f"result file (owner-only; generated passwords are in it, shown nowhere else): {result}")
    print(f"start the service with: mailgothai --data-dir {settings.data_dir} stack up")
    return EXIT_REJECTED if bad else 0
