"""CSV bulk import: ONE service for the CLI, the web pages and the API.

The flow, each step a call (a web view runs the long ones in the background with
`import_runner.start_in_background` and polls `job_status`):

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

The service is put together from one module per job: the job registry and what watchers
see (import_jobs.py), validation (import_validation.py), the domains' import
(import_domains.py); applying a validated job is orchestrated here, the writes themselves
are import_apply.py's, and the files import_files.py's. The background runner is
import_runner.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

from mailgothai.core.csvimport import FileFormat
from mailgothai.durable import fsync_dir
from mailgothai.services.import_apply import Applier
from mailgothai.services.import_domains import DomainImports, DomainImportSummary
from mailgothai.services.import_files import (
    RESULT,
    RESULT_HEADER,
    PasswordCells,
    PasswordJournal,
    job_lock,
    open_checked,
    write_result,
)
from mailgothai.services.import_jobs import (
    JobSummary,
    Meter,
    Progress,
    ProgressFn,
    RowOutcome,
    existing_result,
    iter_report_rows,
    now,
)
from mailgothai.services.import_validation import ImportValidation
from mailgothai.store.jobs import JobState

__all__ = ["DomainImportSummary", "ImportService", "JobSummary", "Progress", "ProgressFn", "RowOutcome",
           "existing_result", "iter_report_rows"]


class ImportService(ImportValidation, DomainImports):
    def apply(self, job_id: int, progress: ProgressFn | None = None) -> JobSummary:
        """Write the valid rows of a validated job; also goes on with an interrupted one."""
        with job_lock(self._folder(job_id), job_id):
            return self._apply(job_id, progress)

    def _apply(self, job_id: int, progress: ProgressFn | None) -> JobSummary:
        job = self.get_job(job_id)
        if job.state is JobState.DONE:
            PasswordJournal(self._folder(job_id)).remove()  # a kill after DONE, before the journal went
            return self.job_status(job_id)
        if job.state is JobState.VALIDATING or (job.state is JobState.FAILED and not job.started_apply_at):
            self._validate(job_id, None)
            job = self.get_job(job_id)
        folder = self._folder(job_id)
        journal = PasswordJournal(folder)
        counts = self.jobs.counts(job_id)
        total = sum(n for (action, _), n in counts.items() if action in ("create", "update"))
        already = sum(n for (action, state), n in counts.items()
                      if action in ("create", "update") and state not in ("planned", "inflight", "reserved"))
        meter = Meter("applying", progress, total)
        meter.done = already

        def on_chunk(n: int) -> None:
            meter.add(n)

        applier = Applier(self.b, self.jobs, job_id, actor=job.actor, origin=job.origin, journal=journal,
                          on_chunk=on_chunk, must_change=job.must_change_password)
        try:
            with open_checked(Path(job.file_path), job.file_sha256) as stream:
                fmt = FileFormat(job.encoding, job.delimiter)
                applier.recover()
                self.jobs.update(job_id, state=JobState.APPLYING, error="", error_data=None,
                                 **({} if job.started_apply_at else {"started_apply_at": now()}))
                applier.reserve()
                cells = PasswordCells(stream, fmt)
                try:
                    applier.run(cells)
                finally:
                    cells.close()
        except BaseException as exc:
            if isinstance(exc, Exception):  # not a kill, a KeyboardInterrupt: the process goes on
                try:
                    applier.release()  # the room the job booked and did not use goes back
                except Exception:  # noqa: BLE001 - e.g. slapd still unreachable: the rows keep the booking
                    pass
            self.jobs.update(job_id, state=JobState.FAILED, error=str(exc) or type(exc).__name__)
            raise
        meter.add(0, 1.0, force=True)
        # The generated passwords are in the journal and, once written, in result.csv: a
        # resume after a crash at the end (the journal gone, or the DONE update lost) must
        # not write the result again without them. The result is on disk (fsynced, and its
        # folder) and the job DONE (committed) before the journal goes.
        passwords = journal.read()
        for row, password in _result_passwords(folder / RESULT).items():
            passwords.setdefault(row, password)
        write_result(folder, self.jobs.iter_rows(job_id), passwords)
        fsync_dir(folder)
        self.jobs.update(job_id, state=JobState.DONE, finished_at=now(), result_path=str(folder / RESULT))
        journal.remove()
        if Path(job.file_path).parent == folder:
            Path(job.file_path).unlink(missing_ok=True)  # the upload may hold passwords
        return self.job_status(job_id)

    def resume(self, job_id: int, progress: ProgressFn | None = None) -> JobSummary:
        """Go on with an interrupted (or dry-run) job until it is done."""
        return self.apply(job_id, progress)

    def run_file(self, path: Path, *, dry_run: bool = False, progress: ProgressFn | None = None,
                 encoding: str | None = None, must_change: bool = False) -> JobSummary:
        """The CLI's one step: start, validate, and (unless dry_run) apply."""
        job = self.start_job(path, dry_run=dry_run, encoding=encoding, must_change=must_change)
        summary = self.validate(job.id, progress)
        if dry_run:
            return summary
        return self.apply(job.id, progress)


def _result_passwords(path: Path) -> dict[int, str]:
    """row -> generated password, from a result file an earlier run of the job wrote."""
    out: dict[int, str] = {}
    try:
        fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return out
    with fh:
        reader = csv.reader(fh)
        if tuple(next(reader, ())) != RESULT_HEADER:
            return out
        password_at = RESULT_HEADER.index("generated_password")
        for line in reader:
            if len(line) == len(RESULT_HEADER) and line[0].isdigit() and line[password_at]:
                out[int(line[0])] = line[password_at]
    return out

