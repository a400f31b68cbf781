"""`mailgothai import FILE`, `import-domains FILE`, `export --domain D | --all`.

import exits 0 when every row was applied (or, with --dry-run, would be), 3 when some
rows were rejected (the report names row, column and reason), 2 for an unusable file
(among them one that is neither UTF-8 nor Thai text: --encoding names its encoding).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from mailgothai.core.csvimport import OFFERED_ENCODINGS, guard
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.services.exports import ENCODINGS, ExportService
from mailgothai.services.import_files import job_dir
from mailgothai.services.imports import ImportService, JobSummary, Progress
from mailgothai.services.registry import Services

EXIT_REJECTED = 3
ENCODING_HELP = (f"read the file in this encoding ({', '.join(OFFERED_ENCODINGS)}; tis-620 = cp874) instead of "
                 "detecting UTF-8 or Thai Windows cp874; a file that is neither is refused, never guessed")


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = groups.add_parser("import", help="import accounts from a CSV file (validate, then apply)")
    imp.add_argument("file", nargs="?", type=Path, help="CSV: email,given_name,surname,display_name,password,"
                                                         "quota,status,aliases,forward (any order)")
    imp.add_argument("--dry-run", action="store_true", help="validate every row, change nothing")
    imp.add_argument("--report", type=Path, help="write the bad rows here (row,email,column,reason)")
    imp.add_argument("--resume", type=int, metavar="JOB", help="go on with an interrupted or dry-run job")
    imp.add_argument("--result", type=Path, help="also copy the result file (generated passwords) here")
    imp.add_argument("--encoding", metavar="NAME", help=ENCODING_HELP)
    imp.add_argument("--must-change", action="store_true",
                     help="every account the import creates changes its password at first login (IMAP, SMTP, web)")
    imp.set_defaults(handler=cmd_import)

    dom = groups.add_parser("import-domains", help="add or update domains from a CSV file (operators)")
    dom.add_argument("file", type=Path, help="CSV: domain,description,max_accounts,quota,default_quota")
    dom.add_argument("--report", type=Path, help="write the bad rows here")
    dom.add_argument("--encoding", metavar="NAME", help=ENCODING_HELP)
    dom.set_defaults(handler=cmd_import_domains)

    exp = groups.add_parser("export", help="export accounts in the import format (never a password)")
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--domain", help="one domain")
    which.add_argument("--all", action="store_true", help="every domain you manage")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exp.add_argument("--encoding", choices=ENCODINGS, default="utf-8-sig",
                     help="utf-8-sig (default: Excel opens it right), utf-8, or cp874")
    exp.set_defaults(handler=cmd_export)


# ---- progress -------------------------------------------------------------------------
@contextlib.contextmanager
def progress_display() -> Iterator[Callable[[Progress], None]]:
    """A rich progress bar (rows/s, ETA) on a terminal; plain lines every few seconds otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, TaskID, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        with Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                 TextColumn("{task.fields[rate]:>8,.0f} rows/s"), TimeRemainingColumn(),
                 console=None, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def show(p: Progress) -> None:
                if p.stage not in tasks:
                    tasks[p.stage] = bar.add_task(p.stage, total=100.0, rate=0.0)
                bar.update(tasks[p.stage], completed=p.fraction * 100, rate=p.rate,
                           description=f"{p.stage} {p.done:,} rows")
            yield show
        return
    last = [0.0]

    def plain(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < 5 and p.fraction < 1:
            return
        last[0] = now
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None and p.fraction < 1 else ""
        print(f"{p.stage}: {p.done} rows ({p.fraction:.0%}), {p.rate:.0f} rows/s{eta}", file=sys.stderr, flush=True)
    yield plain


# ---- import ---------------------------------------------------------------------------
def _print_summary(s: JobSummary) -> None:
    job = s.job
    print(f"job {job.id}: {job.file_name}: {s.rows} rows ({job.encoding or '?'}, delimiter {job.delimiter!r})")
    if job.unknown_columns:
        print(f"unknown columns, not imported: {', '.join(job.unknown_columns)}")
    print(f"valid: {s.to_create} to create, {s.to_update} to update, {s.unchanged} unchanged; "
          f"rejected: {s.rejected}" + (f"; blank rows: {s.blank}" if s.blank else ""))
    if job.started_apply_at is not None:
        print(f"applied: {s.created} created, {s.updated} updated; failed while applying: {s.failed}"
              + (f"; not applied yet: {s.pending} (resume with --resume {job.id})" if s.pending else ""))
        if s.changes == 0 and s.failed == 0 and not s.pending:
            print("nothing changed: the directory already matches the file")


def _write_report(service: ImportService, s: JobSummary, path: Path | None, data_dir: Path) -> None:
    if s.bad == 0 and path is None:
        return
    target = path or job_dir(data_dir, s.job.id) / "report.csv"
    with open(target, "w", newline="", encoding="utf-8-sig") as out:
        service.write_report(s.job.id, out)
    print(f"report of {s.bad} bad rows: {target}")
    for r in service.rows(s.job.id, only_bad=True, limit=10):
        print(f"  row {r.row}: {r.column or 'row'}: {r.reason}", file=sys.stderr)
    if s.bad > 10:
        print(f"  ... {s.bad - 10} more in the report", file=sys.stderr)


def cmd_import(args: argparse.Namespace, services: Services) -> int:
    service = ImportService(services.backends, services.actor)
    if args.resume is None and args.file is None:
        raise InvalidInput("file", Why.FILE_OR_RESUME())
    with progress_display() as show:
        if args.resume is not None:
            if args.encoding:
                raise InvalidInput("encoding", Why.RESUME_KEEPS_ENCODING())
            summary = service.resume(args.resume, show)
        else:
            summary = service.run_file(args.file, dry_run=args.dry_run, progress=show, encoding=args.encoding,
                                       must_change=args.must_change)
    _print_summary(summary)
    _write_report(service, summary, args.report, services.backends.settings.data_dir)
    result = service.result_file(summary.job.id)
    if result is not None:
        if args.result is not None:
            fd = os.open(args.result, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out, open(result, "rb") as src:
                shutil.copyfileobj(src, out)
            result = args.result
        print(f"result file (owner-only; generated passwords are in it, shown nowhere else): {result}")
    if args.dry_run and summary.bad == 0:
        print(f"dry run: nothing written; apply with: mailgothai import --resume {summary.job.id}")
    return EXIT_REJECTED if summary.bad else 0


def cmd_import_domains(args: argparse.Namespace, services: Services) -> int:
    service = ImportService(services.backends, services.actor)
    s = service.import_domains(args.file, encoding=args.encoding)
    print(f"{s.rows} rows: {s.created} domains created, {s.updated} updated, {s.unchanged} unchanged, "
          f"{len(s.bad)} rejected")
    if s.unknown_columns:
        print(f"unknown columns, not imported: {', '.join(s.unknown_columns)}")
    for r in s.bad:
        print(f"  row {r.row}: {r.column or 'row'}: {r.reason}", file=sys.stderr)
    if args.report is not None:
        import csv

        with open(args.report, "w", newline="", encoding="utf-8-sig") as out:
            writer = csv.writer(out)
            writer.writerow(("row", "domain", "column", "reason"))
            # every cell guarded: a domain cell is the file's own text (=HYPERLINK(...) runs in Excel)
            writer.writerows([guard(str(cell)) for cell in (r.row, r.email, r.column, r.reason)] for r in s.bad)
    return EXIT_REJECTED if s.bad else 0


# ---- export ---------------------------------------------------------------------------
@contextlib.contextmanager
def _output(path: Path | None, encoding: str) -> Iterator[TextIO]:
    if path is None:
        sys.stdout.reconfigure(encoding=encoding, newline="")  # type: ignore[union-attr]
        yield sys.stdout
        sys.stdout.flush()
        return
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", newline="", encoding=encoding) as out:
            yield out
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def cmd_export(args: argparse.Namespace, services: Services) -> int:
    service = ExportService(services.backends, services.actor)
    try:
        with _output(args.output, args.encoding) as out:
            summary = service.export(out, None if args.all else args.domain)
    except UnicodeEncodeError as exc:
        raise InvalidInput("encoding", Why.CANNOT_WRITE_IN_ENCODING(
            encoding=args.encoding, value=repr(exc.object[exc.start:exc.end]))) from None
    where = f" to {args.output}" if args.output else ""
    print(f"exported {summary.accounts} accounts of {summary.domains} domains{where}", file=sys.stderr)
    return 0
