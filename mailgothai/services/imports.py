"""CSV bulk import: ONE service for the CLI, the web pages and the API.

The flow, each step a call (a web view runs the long ones in the background with
`start_in_background` and polls `job_status`):

    job = imports.start_job(path, file_name="staff.csv")        # registers the job
    summary = imports.validate(job.id)                            # dry run: every row checked, nothing written
    imports.rows(job.id, only_bad=True)                           # the bad rows: row, column, reason
    imports.write_report(job.id, out)                             # ... as CSV
    summary = imports.apply(job.id)                               # confirm: valid rows written
    imports.result_file(job.id)                                   # outcome per row + generated passwords
    imports.resume(job.id)                                        # after a crash or kill: settles and goes on

Rights: a domain admin imports only into its own domains (rows for others are bad rows,
"not hosted here", whether the domain exists or not) and sees only its own jobs.
Passwords are never stored by the job: they are read from the file when applied.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from mailgothai.core.addresses import split_address
from mailgothai.core.csvimport import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
    DOMAIN_COLUMNS,
    DOMAIN_SYNONYMS,
    Action,
    FileFormat,
    Holder,
    ParsedRow,
    PlannedRow,
    Planner,
    RowResult,
    detect_format,
    map_header,
    parse_account_row,
    read_records,
)
from mailgothai.core.csvimport.cells import guard, unguard
from mailgothai.core.csvimport.charsets import encoding_named
from mailgothai.core.models import Domain, Role
from mailgothai.directory.holders import Compact, holder_from, holders_of, preload_domain
from mailgothai.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from mailgothai.services.actor import Actor
from mailgothai.services.base import Service
from mailgothai.services.domains import DomainService, build_limits
from mailgothai.services.import_apply import Applier, account_to_json, changes_to_json
from mailgothai.services.import_files import (
    PasswordCells,
    PasswordJournal,
    job_dir,
    job_lock,
    keep_upload,
    open_checked,
    sha256_of,
    write_result,
)
from mailgothai.settings import Settings
from mailgothai.store.jobs import BAD_STATES, JobRecord, JobState, JobStore, RowRecord, RowState

LOOKUP_BATCH = 250  # rows checked against the directory per search
PRELOAD_FACTOR = 4  # read a whole domain when the file has at least a quarter of its accounts
PRELOAD_SMALL = 2000  # ... or when the domain is small anyway
PRELOAD_THREADS = 3
SQL_BATCH = 1000
RUNNING_WITHIN_S = 60  # a job touched this recently by its process counts as running
REPORT_HEADER = ("row", "email", "column", "reason")


@dataclass(frozen=True)
class Progress:
    stage: str  # "validating" or "applying"
    done: int  # rows
    total: int | None  # None while the number of rows is not known yet
    fraction: float  # 0..1
    rate: float  # rows per second
    eta_s: float | None


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class JobSummary:
    job: JobRecord
    rows: int  # data rows validated
    to_create: int
    to_update: int
    unchanged: int
    rejected: int
    blank: int
    created: int
    updated: int
    failed: int
    pending: int  # planned or in flight
    running: bool

    @property
    def bad(self) -> int:
        return self.rejected + self.failed

    @property
    def changes(self) -> int:
        return self.created + self.updated

    @property
    def state(self) -> JobState:
        return self.job.state


@dataclass(frozen=True)
class RowOutcome:
    row: int
    email: str
    action: str
    state: str
    column: str
    reason: str


@dataclass(frozen=True)
class DomainImportSummary:
    rows: int
    created: int
    updated: int
    unchanged: int
    bad: tuple[RowResult, ...]
    unknown_columns: tuple[str, ...]


_running: dict[int, threading.Thread] = {}
_running_lock = threading.Lock()


class _Meter:
    def __init__(self, stage: str, progress: ProgressFn | None, total: int | None = None) -> None:
        self.stage, self.progress, self.total = stage, progress, total
        self.done, self.started, self.last = 0, time.monotonic(), 0.0

    def add(self, n: int, fraction: float | None = None, force: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        if self.progress is None or (not force and now - self.last < 0.25):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        if fraction is None:
            fraction = self.done / self.total if self.total else 0.0
        rate = self.done / elapsed
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self.progress(Progress(self.stage, self.done, self.total, min(fraction, 1.0), rate, eta))


def existing_result(job: JobRecord) -> Path | None:
    """A job's result file, while it is there (the admin may have deleted it)."""
    path = Path(job.result_path) if job.result_path else None
    return path if path is not None and path.is_file() else None


class ImportService(Service):
    # ---- jobs ----------------------------------------------------------------------
    @property
    def jobs(self) -> JobStore:
        return JobStore(self.b.store)

    def _folder(self, job_id: int) -> Path:
        return job_dir(self.b.settings.data_dir, job_id)

    def get_job(self, job_id: int) -> JobRecord:
        """The job, if the actor may see it (its own jobs; an operator sees all)."""
        job = self.jobs.get(job_id)
        if self.actor.role is not Role.SUPERADMIN and job.actor != self.actor.login:
            raise NotFound("import job", str(job_id))
        return job

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        return self.jobs.recent(None if self.actor.role is Role.SUPERADMIN else self.actor.login, limit)

    def start_job(self, path: Path, *, file_name: str | None = None, dry_run: bool = False,
                  keep_copy: bool = False, encoding: str | None = None) -> JobRecord:
        """Register an import of `path`. keep_copy (web uploads): the job keeps its own copy,
        deleted when the job is done; otherwise the job refers to `path`, which must not change.
        encoding: a name the operator gave (`charsets.encoding_named`), used instead of
        detection; the job keeps it (a job's encoding, once set, is the one it is read in)."""
        codec = encoding_named(encoding) if encoding else None
        path = Path(path).resolve()
        if not path.is_file():
            raise InvalidInput("file", f"no such file: {path}")
        job = self.jobs.create(kind="accounts", actor=self.actor.login, origin=self.actor.origin,
                               file_name=file_name or path.name, file_path=str(path),
                               file_sha256=sha256_of(path), dry_run=dry_run)
        if codec is not None:
            self.jobs.update(job.id, encoding=codec)
        if keep_copy:
            copy = keep_upload(path, self._folder(job.id))
            self.jobs.update(job.id, file_path=str(copy))
        return self.get_job(job.id)

    # ---- validation (dry run) ----------------------------------------------------
    def _managed_domains(self) -> dict[str, Domain]:
        return {d.name: d for d in self.b.domains.iter_all() if self.actor.may_manage(d.name)}

    def validate(self, job_id: int, progress: ProgressFn | None = None) -> JobSummary:
        """Check every row against the core rules and the directory; write nothing but the plan."""
        with job_lock(self._folder(job_id), job_id):
            return self._validate(job_id, progress)

    def _validate(self, job_id: int, progress: ProgressFn | None) -> JobSummary:
        job = self.get_job(job_id)
        if job.state not in (JobState.VALIDATING, JobState.VALIDATED, JobState.FAILED) or job.started_apply_at:
            raise InvalidInput("job", f"job {job_id} is {job.state.value}; it cannot be validated again")
        self.jobs.clear_rows(job_id)
        self.jobs.update(job_id, state=JobState.VALIDATING, error="", validated_rows=0)
        try:
            with open_checked(Path(job.file_path), job.file_sha256) as stream:
                size = max(1, Path(job.file_path).stat().st_size)
                fmt = detect_format(stream, job.encoding or None)
                header_cells, records = read_records(stream, fmt)
                records.close()
                header = map_header(header_cells, ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
                self.jobs.update(job_id, encoding=fmt.encoding, delimiter=fmt.delimiter,
                                 unknown_columns=list(header.unknown))
                planner = Planner(self._managed_domains())
                known, preloaded = self._preload(stream, fmt, planner.domains)
                stream.seek(0)
                header_cells, records = read_records(stream, fmt)
                meter = _Meter("validating", progress)
                rows_out: list[dict[str, Any]] = []
                batch: list[ParsedRow | RowResult | int] = []
                total = 0

                def flush_batch() -> None:
                    rows_out.extend(self._plan_batch(planner, batch, known, preloaded))
                    batch.clear()

                for record in records:
                    total = record.row
                    batch.append(record.row if record.blank else parse_account_row(record, header))
                    if len(batch) >= LOOKUP_BATCH:
                        flush_batch()
                        if len(rows_out) >= SQL_BATCH:
                            self.jobs.add_rows(job_id, rows_out, total)
                            rows_out.clear()
                        meter.add(LOOKUP_BATCH, stream.tell() / size)
                flush_batch()
                self.jobs.add_rows(job_id, rows_out, total)
                meter.done = total
                meter.add(0, 1.0, force=True)
        except InvalidInput as exc:
            self.jobs.update(job_id, state=JobState.FAILED, error=f"{exc.field}: {exc.reason}")
            raise
        self.jobs.update(job_id, state=JobState.VALIDATED, total_rows=total)
        return self.job_status(job_id)

    def _preload(self, stream: BinaryIO, fmt: FileFormat,
                 domains: dict[str, Domain]) -> tuple[dict[str, Compact], set[str]]:
        """A first, light pass over the file counts its rows per domain; the domains the file
        covers a good part of have all their addresses read a page at a time (a few large
        searches), the others are asked address by address in batches (filters cost)."""
        rows: dict[str, int] = {}
        stream.seek(0)
        header_cells, records = read_records(stream, fmt)
        header = map_header(header_cells, ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
        columns = [header.index[c] for c in ("email", "aliases") if c in header.index]
        for record in records:
            for position in columns:
                cell = record.cells[position] if position < len(record.cells) else ""
                for address in cell.replace(",", ";").split(";"):
                    domain = address.rpartition("@")[2].strip().lower()
                    if domain:
                        rows[domain] = rows.get(domain, 0) + 1
        stream.seek(0)
        known: dict[str, Compact] = {}
        preloaded = {name for name, count in rows.items() if name in domains
                     and domains[name].account_count <= PRELOAD_FACTOR * count + PRELOAD_SMALL}
        # A few connections at once: slapd serves one domain while this process decodes another.
        with ThreadPoolExecutor(PRELOAD_THREADS, thread_name_prefix="preload") as pool:
            for _ in pool.map(lambda name: preload_domain(self.b.gateway, self.b.layout, name, known),
                              sorted(preloaded, key=lambda n: -domains[n].account_count)):
                pass
        return known, preloaded

    def _plan_batch(self, planner: Planner, batch: list[ParsedRow | RowResult | int],
                    known: dict[str, Compact], preloaded: set[str]) -> list[dict[str, Any]]:
        parsed = [p for p in batch if isinstance(p, ParsedRow)]
        holders: dict[str, Holder] = {}
        wanted = []
        for p in parsed:
            for address in planner.addresses_to_look_up(p):
                domain = split_address(address)[1]
                if domain in preloaded:
                    record = known.get(address)
                    if record is not None:
                        holders[address] = holder_from(address, record)
                elif domain in planner.domains:
                    wanted.append(address)
        if wanted:
            holders.update(holders_of(self.b.gateway, self.b.layout, wanted))
        out = []
        for item in batch:
            if isinstance(item, int):
                out.append(_sql_row(item, "", "", RowState.BLANK))
                continue
            result = item if isinstance(item, RowResult) else planner.plan(item, holders)
            out.append(_planned_sql(result))
        return out

    # ---- applying ------------------------------------------------------------------
    def apply(self, job_id: int, progress: ProgressFn | None = None) -> JobSummary:
        """Write the valid rows of a validated job; also goes on with an interrupted one."""
        with job_lock(self._folder(job_id), job_id):
            return self._apply(job_id, progress)

    def _apply(self, job_id: int, progress: ProgressFn | None) -> JobSummary:
        job = self.get_job(job_id)
        if job.state is JobState.DONE:
            return self.job_status(job_id)
        if job.state is JobState.VALIDATING or (job.state is JobState.FAILED and not job.started_apply_at):
            self._validate(job_id, None)
            job = self.get_job(job_id)
        folder = self._folder(job_id)
        journal = PasswordJournal(folder)
        counts = self.jobs.counts(job_id)
        total = sum(n for (action, _), n in counts.items() if action in ("create", "update"))
        already = sum(n for (action, state), n in counts.items()
                      if action in ("create", "update") and state not in ("planned", "inflight"))
        meter = _Meter("applying", progress, total)
        meter.done = already

        def on_chunk(n: int) -> None:
            meter.add(n)

        applier = Applier(self.b, self.jobs, job_id, actor=job.actor, origin=job.origin, journal=journal,
                          on_chunk=on_chunk)
        try:
            with open_checked(Path(job.file_path), job.file_sha256) as stream:
                fmt = FileFormat(job.encoding, job.delimiter)
                applier.recover(reservations_made=job.started_apply_at is not None)
                self.jobs.update(job_id, state=JobState.APPLYING, error="",
                                 **({} if job.started_apply_at else {"started_apply_at": _now()}))
                applier.reserve()
                cells = PasswordCells(stream, fmt)
                try:
                    applier.run(cells)
                finally:
                    cells.close()
        except BaseException as exc:
            self.jobs.update(job_id, state=JobState.FAILED, error=str(exc) or type(exc).__name__)
            raise
        meter.add(0, 1.0, force=True)
        write_result(folder, self.jobs.iter_rows(job_id), journal.read())
        journal.remove()
        self.jobs.update(job_id, state=JobState.DONE, finished_at=_now(), result_path=str(folder / "result.csv"))
        if Path(job.file_path).parent == folder:
            Path(job.file_path).unlink(missing_ok=True)  # the upload may hold passwords
        return self.job_status(job_id)

    def resume(self, job_id: int, progress: ProgressFn | None = None) -> JobSummary:
        """Go on with an interrupted (or dry-run) job until it is done."""
        return self.apply(job_id, progress)

    def run_file(self, path: Path, *, dry_run: bool = False, progress: ProgressFn | None = None,
                 encoding: str | None = None) -> JobSummary:
        """The CLI's one step: start, validate, and (unless dry_run) apply."""
        job = self.start_job(path, dry_run=dry_run, encoding=encoding)
        summary = self.validate(job.id, progress)
        if dry_run:
            return summary
        return self.apply(job.id, progress)

    # ---- watching ------------------------------------------------------------------
    def job_status(self, job_id: int) -> JobSummary:
        job = self.get_job(job_id)
        counts = self.jobs.counts(job_id)

        def count(action: str | None = None, states: tuple[str, ...] | None = None) -> int:
            return sum(n for (a, s), n in counts.items()
                       if (action is None or a == action) and (states is None or s in states))

        with _running_lock:
            thread = _running.get(job_id)
        recent = (_now() - job.updated_at).total_seconds() < RUNNING_WITHIN_S
        running = (thread is not None and thread.is_alive()) or (
            thread is None and recent and job.state in (JobState.VALIDATING, JobState.APPLYING))
        return JobSummary(
            job=job, rows=job.validated_rows if job.state is JobState.VALIDATING else job.total_rows,
            to_create=count("create"), to_update=count("update"), unchanged=count(None, ("unchanged",)),
            rejected=count(None, ("rejected",)), blank=count(None, ("blank",)),
            created=count("create", ("applied",)), updated=count("update", ("applied",)),
            failed=count(None, ("failed",)), pending=count(None, ("planned", "inflight")), running=running,
        )

    def rows(self, job_id: int, *, only_bad: bool = True, after_row: int = 0, limit: int = 100) -> list[RowOutcome]:
        self.get_job(job_id)
        states = BAD_STATES if only_bad else None
        return [_outcome(r) for r in self.jobs.rows(job_id, states, after_row, limit)]

    def write_report(self, job_id: int, out: TextIO) -> int:
        """The bad rows as CSV (row, email, column, reason); returns how many."""
        self.get_job(job_id)
        writer = csv.writer(out)
        writer.writerow(REPORT_HEADER)
        n = 0
        for r in self.jobs.iter_rows(job_id, BAD_STATES):
            writer.writerow([r.row, guard(r.email), r.column, guard(r.reason)])
            n += 1
        return n

    def result_file(self, job_id: int) -> Path | None:
        """The result file (owner-only; generated passwords in it), once the job is done."""
        return existing_result(self.get_job(job_id))

    def discard_result(self, job_id: int) -> None:
        """Delete the result file once the admin has it (it holds generated passwords)."""
        path = self.result_file(job_id)
        if path is not None:
            path.unlink()

    # ---- domains (operators) ---------------------------------------------------------
    def import_domains(self, path: Path, encoding: str | None = None) -> DomainImportSummary:
        """domain,description,max_accounts,quota,default_quota: new domains added, changed ones updated.
        encoding: as for `start_job`."""
        self.actor.require_superadmin()
        codec = encoding_named(encoding) if encoding else None
        domains = DomainService(self.b, self.actor)
        bad: list[RowResult] = []
        created = updated = unchanged = rows = 0
        with open(path, "rb") as stream:
            fmt = detect_format(stream, codec)
            header_cells, records = read_records(stream, fmt)
            header = map_header(header_cells, DOMAIN_COLUMNS, ("domain",), DOMAIN_SYNONYMS)
            for record in records:
                rows = record.row
                if record.blank:
                    continue
                if len(record.cells) != header.width:
                    bad.append(RowResult(record.row, False, "", f"the row has {len(record.cells)} cells but the "
                                                                f"header has {header.width}"))
                    continue
                values = {c: unguard(record.cells[i]) for c, i in header.index.items()}
                name = values.pop("domain").strip()
                limits = {("quota_pool" if k == "quota" else k): (v.strip() or None)
                          for k, v in values.items() if k != "description"}
                try:
                    existing = self.b.domains.find(name.lower()) if name else None
                    if existing is None:
                        domains.add(name, description=values.get("description", ""), **limits)
                        created += 1
                    else:
                        description = values.get("description")
                        wanted = build_limits(existing.limits, **limits)
                        if wanted == existing.limits and description in (None, existing.description):
                            unchanged += 1  # nothing to write, nothing to audit
                        else:
                            domains.set(existing.name, description=description, **limits)
                            updated += 1
                except InvalidInput as exc:
                    column = "quota" if exc.field == "quota_pool" else exc.field
                    bad.append(RowResult(record.row, False, column, exc.reason, name))
                except (AlreadyExists, NotFound, PermissionDenied) as exc:
                    bad.append(RowResult(record.row, False, "domain", str(exc), name))
        return DomainImportSummary(rows, created, updated, unchanged, tuple(bad), header.unknown)


def _now() -> Any:
    from mailgothai.store.jobs import now

    return now()


def _sql_row(row: int, email: str, action: str, state: RowState, column: str = "", reason: str = "",
             domain: str = "", quota: int = 0, data: Any = None) -> dict[str, Any]:
    return {"row": row, "email": email[:1024], "action": action, "state": state.value, "column": column,
            "reason": reason, "domain": domain, "quota": quota, "data": data}


def _planned_sql(result: PlannedRow | RowResult) -> dict[str, Any]:
    if isinstance(result, RowResult):
        return _sql_row(result.row, result.email, "", RowState.REJECTED, result.column, result.reason)
    if result.action is Action.CREATE:
        return _sql_row(result.row, result.email, "create", RowState.PLANNED, domain=result.domain,
                        quota=result.account.quota,
                        data={"account": account_to_json(result.account), "password": result.password.value})
    if result.action is Action.UPDATE:
        assert result.before is not None
        return _sql_row(result.row, result.email, "update", RowState.PLANNED, domain=result.domain,
                        quota=result.account.quota - result.before.quota,
                        data={"changes": changes_to_json(result.changes), "before": account_to_json(result.before),
                              "after": account_to_json(result.account), "password": result.password.value})
    return _sql_row(result.row, result.email, "unchanged", RowState.UNCHANGED, domain=result.domain)


def _outcome(r: RowRecord) -> RowOutcome:
    return RowOutcome(r.row, r.email, r.action, r.state.value, r.column, r.reason)


# ---- running in the background (the web) -------------------------------------------------
def start_in_background(settings: Settings, actor: Actor, job_id: int, stage: str = "apply") -> threading.Thread:
    """Validate ("validate") or apply ("apply", also resumes) a job in a thread of this
    process, with its own connections; poll ImportService.job_status for progress."""
    from mailgothai.services.registry import Services

    if stage not in ("validate", "apply"):
        raise ValueError(f"stage must be 'validate' or 'apply', not {stage!r}")

    def work() -> None:
        try:
            with Services.open(settings, actor) as services:
                service = ImportService(services.backends, actor)
                (service.validate if stage == "validate" else service.apply)(job_id)
        except Exception:  # the job records its error; the page shows it
            pass
        finally:
            with _running_lock:
                _running.pop(job_id, None)

    with _running_lock:
        if job_id in _running and _running[job_id].is_alive():
            raise InvalidInput("job", f"job {job_id} is already running")
        thread = threading.Thread(target=work, name=f"import-{job_id}", daemon=True)
        _running[job_id] = thread
    thread.start()
    return thread


def iter_report_rows(service: ImportService, job_id: int) -> Iterator[RowOutcome]:
    after = 0
    while True:
        batch = service.rows(job_id, only_bad=True, after_row=after, limit=1000)
        yield from batch
        if len(batch) < 1000:
            return
        after = batch[-1].row
