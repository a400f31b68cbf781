"""Import jobs: what a job is to its watchers (summary, progress, outcome per row), the
jobs an actor may see, registering one, and the threads of this process running one.

`ImportJobs` is the base of `ImportService` (services/imports.py); validation
(import_validation.py) and applying (imports.py) build on it.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mailgothai.core.csvimport.cells import guard
from mailgothai.core.csvimport.charsets import encoding_named
from mailgothai.core.models import Role
from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.base import Service
from mailgothai.services.import_files import job_dir, keep_upload, sha256_of
from mailgothai.store.jobs import BAD_STATES, JobRecord, JobState, JobStore, RowRecord, RowState

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
    why: Reason | None = None  # the reason as a code and parameters, when it was kept


# The threads of this process validating or applying a job (import_runner.py), by job id.
_running: dict[int, threading.Thread] = {}
_running_lock = threading.Lock()


def claim_thread(job_id: int, thread: threading.Thread) -> None:
    """Register `thread` as the one running job `job_id`; refused while another is alive."""
    with _running_lock:
        if job_id in _running and _running[job_id].is_alive():
            raise InvalidInput("job", Why.JOB_RUNNING(job=job_id))
        _running[job_id] = thread


def release_thread(job_id: int) -> None:
    with _running_lock:
        _running.pop(job_id, None)


def running_thread(job_id: int) -> threading.Thread | None:
    with _running_lock:
        return _running.get(job_id)


class Meter:
    """Progress of one stage, reported at most four times a second (and when forced)."""

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


def now() -> Any:
    from mailgothai.store.jobs import now

    return now()


class ImportJobs(Service):
    """The jobs an actor may see: registered, watched, their rows, report and result."""

    @property
    def jobs(self) -> JobStore:
        return JobStore(self.b.store)

    def _folder(self, job_id: int) -> Path:
        return job_dir(self.b.settings.data_dir, job_id)

    def get_job(self, job_id: int) -> JobRecord:
        """The job, if the actor may see it (an operator sees all; a domain admin its own jobs
        while it still manages every domain they write to)."""
        job = self.jobs.get(job_id)
        if not self._reaches(job):
            raise NotFound("import job", str(job_id))
        return job

    def _reaches(self, job: JobRecord) -> bool:
        """A job is its admin's by login, but a login outlives a right: an admin whose domain
        was taken away (or a later admin given the same login) must not read the accounts,
        bad rows or generated passwords of a domain it no longer manages. The job's domains
        are those of its rows planned to create or update an account (in any state since)."""
        if self.actor.role is Role.SUPERADMIN:
            return True
        if job.actor != self.actor.login:
            return False
        return all(self.actor.may_manage(d) for d in self.jobs.domains_with(job.id, tuple(RowState)))

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        if self.actor.role is Role.SUPERADMIN:
            return self.jobs.recent(None, limit)
        return [j for j in self.jobs.recent(self.actor.login, limit) if self._reaches(j)]

    def start_job(self, path: Path, *, file_name: str | None = None, dry_run: bool = False,
                  keep_copy: bool = False, encoding: str | None = None, must_change: bool = False) -> JobRecord:
        """Register an import of `path`. keep_copy (web uploads): the job keeps its own copy,
        deleted when the job is done; otherwise the job refers to `path`, which must not change.
        encoding: a name the operator gave (`charsets.encoding_named`), used instead of
        detection; the job keeps it (a job's encoding, once set, is the one it is read in)."""
        codec = encoding_named(encoding) if encoding else None
        path = Path(path).resolve()
        if not path.is_file():
            raise InvalidInput("file", Why.NO_SUCH_FILE(path=str(path)))
        job = self.jobs.create(kind="accounts", actor=self.actor.login, origin=self.actor.origin,
                               file_name=file_name or path.name, file_path=str(path),
                               file_sha256=sha256_of(path), dry_run=dry_run)
        if codec is not None:
            self.jobs.update(job.id, encoding=codec)
        if must_change:  # issue 20: every account the job creates changes its password at first login
            self.jobs.update(job.id, must_change_password=True)
        if keep_copy:
            copy = keep_upload(path, self._folder(job.id))
            self.jobs.update(job.id, file_path=str(copy))
        return self.get_job(job.id)

    # ---- watching ------------------------------------------------------------------
    def job_status(self, job_id: int) -> JobSummary:
        job = self.get_job(job_id)
        counts = self.jobs.counts(job_id)

        def count(action: str | None = None, states: tuple[str, ...] | None = None) -> int:
            return sum(n for (a, s), n in counts.items()
                       if (action is None or a == action) and (states is None or s in states))

        thread = running_thread(job_id)
        recent = (now() - job.updated_at).total_seconds() < RUNNING_WITHIN_S
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
        job = self.get_job(job_id)
        path = existing_result(job)
        if path is None:
            return
        try:
            path.unlink()
        except FileNotFoundError:  # another request deleted it just now (and recorded it)
            return
        # Who took the passwords' only copy away, and when: recorded for each agency the
        # job wrote to, so each one's audit log shows it.
        domains: list[str | None] = [*sorted(self.jobs.domains_with(job_id, tuple(RowState)))] or [None]
        for domain in domains:
            self.audit("import.result_delete", "import_job", str(job_id), domain, after={"file_name": job.file_name})


def _outcome(r: RowRecord) -> RowOutcome:
    return RowOutcome(r.row, r.email, r.action, r.state.value, r.column, r.reason, r.why)


def iter_report_rows(service: ImportJobs, job_id: int) -> Iterator[RowOutcome]:
    after = 0
    while True:
        batch = service.rows(job_id, only_bad=True, after_row=after, limit=1000)
        yield from batch
        if len(batch) < 1000:
            return
        after = batch[-1].row
