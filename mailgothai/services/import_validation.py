"""Validating an import job (the dry run): every row checked against the core rules and
what the directory holds; nothing is written but the plan, row by row, in the job store.

What the directory holds is learnt two ways: the domains the file covers a good part of
are read whole, a page at a time (`_preload`); for the others the file's addresses are
looked up in batches (`_plan_batch`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from mailgothai.core.addresses import split_address
from mailgothai.core.csvimport import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
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
from mailgothai.core.csvimport.cells import printable
from mailgothai.core.models import Domain
from mailgothai.core.reasons import Reason, Term, Why
from mailgothai.directory.holders import Compact, holder_from, holders_of, preload_domain, preload_foreign_aliases
from mailgothai.errors import InvalidInput
from mailgothai.services.import_apply import account_to_json, changes_to_json
from mailgothai.services.import_files import job_lock, open_checked
from mailgothai.services.import_jobs import ImportJobs, JobSummary, Meter, ProgressFn
from mailgothai.services.password_policy import policy_for
from mailgothai.store.jobs import JobState, RowState, reason_data

LOOKUP_BATCH = 250  # rows checked against the directory per search
PRELOAD_FACTOR = 4  # read a whole domain when the file has at least a quarter of its accounts
PRELOAD_SMALL = 2000  # ... or when the domain is small anyway
PRELOAD_THREADS = 3
SQL_BATCH = 1000
MAX_ERROR = 500  # characters of a refused file's reason kept on the job (and shown by its pages and the API)
MAX_PARAM = 200  # characters of each value in it


class ImportValidation(ImportJobs):
    def _managed_domains(self) -> dict[str, Domain]:
        return {d.name: d for d in self.b.domains.iter_all() if self.actor.may_manage(d.name)}

    def validate(self, job_id: int, progress: ProgressFn | None = None) -> JobSummary:
        """Check every row against the core rules and the directory; write nothing but the plan."""
        with job_lock(self._folder(job_id), job_id):
            return self._validate(job_id, progress)

    def _validate(self, job_id: int, progress: ProgressFn | None) -> JobSummary:
        job = self.get_job(job_id)
        if job.state not in (JobState.VALIDATING, JobState.VALIDATED, JobState.FAILED) or job.started_apply_at:
            raise InvalidInput("job", Why.JOB_NOT_VALIDATABLE(job=job_id, state=Term(job.state.value)))
        self.jobs.clear_rows(job_id)
        self.jobs.update(job_id, state=JobState.VALIDATING, error="", error_data=None,
                         validated_rows=0)
        try:
            with open_checked(Path(job.file_path), job.file_sha256) as stream:
                size = max(1, Path(job.file_path).stat().st_size)
                fmt = detect_format(stream, job.encoding or None)
                header_cells, records = read_records(stream, fmt)
                records.close()
                header = map_header(header_cells, ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
                self.jobs.update(job_id, encoding=fmt.encoding, delimiter=fmt.delimiter,
                                 unknown_columns=list(header.unknown))
                planner = Planner(self._managed_domains(), password_policy=lambda d: policy_for(self.b, d))
                known, preloaded = self._preload(stream, fmt, planner.domains)
                stream.seek(0)
                header_cells, records = read_records(stream, fmt)
                meter = Meter("validating", progress)
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
            why = _short(exc.why)
            self.jobs.update(job_id, state=JobState.FAILED, error=_cut(f"{exc.field}: {why}", MAX_ERROR),
                             error_data=reason_data(why))
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
        preload_foreign_aliases(self.b.gateway, self.b.layout, preloaded, known)
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


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


def _short(why: Reason) -> Reason:
    """The reason with every value it shows cut to MAX_PARAM characters (a Term is ours, kept)."""
    return Reason(why.why, {name: _short(value) if isinstance(value, Reason)
                            else _cut(value, MAX_PARAM) if isinstance(value, str) and not isinstance(value, Term)
                            else value for name, value in why.params.items()})


def _sql_row(row: int, email: str, action: str, state: RowState, column: str = "", why: Reason | None = None,
             domain: str = "", quota: int = 0, data: Any = None) -> dict[str, Any]:
    return {"row": row, "email": printable(email[:1024]), "action": action, "state": state.value, "column": column,
            "reason": str(why) if why is not None else "", "reason_data": reason_data(why),
            "domain": printable(domain), "quota": quota, "data": data}


def _planned_sql(result: PlannedRow | RowResult) -> dict[str, Any]:
    if isinstance(result, RowResult):
        return _sql_row(result.row, result.email, "", RowState.REJECTED, result.column, result.why)
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
