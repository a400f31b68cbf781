"""Import jobs and each row's outcome, so an interrupted import resumes exactly.

A row's life: ``planned`` (or ``rejected`` / ``unchanged`` / ``blank`` when validated)
→ ``inflight`` (committed *before* its directory write) → ``applied`` or ``failed``
(committed together with the row's audit record, in one transaction). After a crash the
``inflight`` rows are the only ones whose directory state is unknown; the import
service checks them against the directory before going on.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.core.reasons import Reason
from mailgothai.errors import NotFound
from mailgothai.store.audit import clean
from mailgothai.store.db import Store
from mailgothai.store.models import AuditRecord, Base


class JobState(enum.StrEnum):
    VALIDATING = "validating"
    VALIDATED = "validated"  # a dry run ends here; apply (or resume) goes on from here
    APPLYING = "applying"
    DONE = "done"
    FAILED = "failed"  # the file became unusable, or the job stopped on an error (resumable)


class RowState(enum.StrEnum):
    PLANNED = "planned"
    INFLIGHT = "inflight"
    # a create whose room in its domain the job has booked (adjust_usage) and not yet written;
    # INFLIGHT creates are booked too. Shown as "planned" in the counts (counts()).
    RESERVED = "reserved"
    APPLIED = "applied"
    FAILED = "failed"  # refused while applying (a limit or a conflict that appeared since validation)
    REJECTED = "rejected"  # refused by validation
    UNCHANGED = "unchanged"
    BLANK = "blank"  # an empty line


BAD_STATES = (RowState.REJECTED, RowState.FAILED)


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # "accounts" or "domains"
    state: Mapped[str] = mapped_column(String(16), index=True)
    actor: Mapped[str] = mapped_column(String(255), index=True)
    origin: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(16), default="")
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    unknown_columns: Mapped[Any] = mapped_column(JSON, default=list)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    validated_rows: Mapped[int] = mapped_column(Integer, default=0)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    result_path: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    error_data: Mapped[Any] = mapped_column(JSON, nullable=True)  # the error's reason: code and parameters
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_apply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # issue 20 (migration 0010): every account the job creates must change its password at first login
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)


class ImportRow(Base):
    __tablename__ = "import_rows"
    __table_args__ = (Index("ix_import_rows_job_state", "job_id", "state"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(1024), default="")
    domain: Mapped[str] = mapped_column(String(253), default="")
    quota: Mapped[int] = mapped_column(BigInteger, default=0)  # create: the quota; update: the change
    action: Mapped[str] = mapped_column(String(16), default="")  # create / update / unchanged / ""
    state: Mapped[str] = mapped_column(String(16))
    column: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text, default="")  # in English, for the CLI, the API and the result file
    reason_data: Mapped[Any] = mapped_column(JSON, nullable=True)  # the reason's code and parameters (the web's)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)  # the planned values (never a password)


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    state: JobState
    actor: str
    origin: str
    file_name: str
    file_path: str
    file_sha256: str
    encoding: str
    delimiter: str
    unknown_columns: tuple[str, ...]
    total_rows: int
    validated_rows: int
    dry_run: bool
    result_path: str
    error: str
    created_at: datetime
    updated_at: datetime
    started_apply_at: datetime | None
    finished_at: datetime | None
    error_why: Reason | None = None  # the reason of `error` ("field: reason"), when a file was refused whole
    must_change_password: bool = False  # "change at next login" for every account it creates (issue 20)


@dataclass(frozen=True)
class RowRecord:
    row: int
    email: str
    domain: str
    quota: int
    action: str
    state: RowState
    column: str
    reason: str
    data: Any
    why: Reason | None = None  # `reason` as a code and parameters (None for a row stored before they were kept)


@dataclass(frozen=True)
class Outcome:
    """A row's final state, and the audit record to commit with it (None: no change made)."""

    row: int
    state: RowState
    column: str = ""
    why: Reason | None = None
    audit: dict[str, Any] | list[dict[str, Any]] | None = None  # a list: several records, in order

    @property
    def reason(self) -> str:
        return str(self.why) if self.why is not None else ""


def reason_data(why: Reason | None) -> dict[str, object] | None:
    """A reason as stored beside its English text."""
    return why.as_data() if why is not None else None


def _stored_reason(data: Any) -> Reason | None:
    if not data:
        return None
    try:
        return Reason.from_data(data)
    except ValueError:  # a code a later version removed: the English text stays
        return None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


def _job(row: ImportJob) -> JobRecord:
    return JobRecord(
        row.id, row.kind, JobState(row.state), row.actor, row.origin, row.file_name, row.file_path,
        row.file_sha256, row.encoding, row.delimiter, tuple(row.unknown_columns or ()), row.total_rows,
        row.validated_rows, row.dry_run, row.result_path, row.error, _utc(row.created_at),  # type: ignore[arg-type]
        _utc(row.updated_at), _utc(row.started_apply_at), _utc(row.finished_at),  # type: ignore[arg-type]
        _stored_reason(row.error_data), bool(row.must_change_password),
    )


def _row(row: Any) -> RowRecord:
    return RowRecord(row.row, row.email, row.domain, row.quota, row.action, RowState(row.state), row.column,
                     row.reason, row.data, _stored_reason(row.reason_data))


_ROWS = cast(Table, ImportRow.__table__)
_AUDIT = cast(Table, AuditRecord.__table__)
# Core statements for the per-chunk writes (an import makes one per row): SQLAlchemy's ORM
# bulk paths cost several times more CPU per row for the same SQL.
_FINISH_ROW = (update(_ROWS).where(_ROWS.c.job_id == bindparam("b_job"), _ROWS.c.row == bindparam("b_row"))
               .values(state=bindparam("b_state"), column=bindparam("b_column"), reason=bindparam("b_reason"),
                       reason_data=bindparam("b_reason_data")))


def now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    # ---- jobs -------------------------------------------------------------------
    def create(self, *, kind: str, actor: str, origin: str, file_name: str, file_path: str, file_sha256: str,
               dry_run: bool) -> JobRecord:
        with self._store.session() as s:
            job = ImportJob(kind=kind, state=JobState.VALIDATING.value, actor=actor, origin=origin,
                            file_name=file_name, file_path=file_path, file_sha256=file_sha256, dry_run=dry_run,
                            unknown_columns=[], created_at=now(), updated_at=now())
            s.add(job)
            s.flush()
            return _job(job)

    def get(self, job_id: int) -> JobRecord:
        with self._store.session() as s:
            job = s.get(ImportJob, job_id)
            if job is None:
                raise NotFound("import job", str(job_id))
            return _job(job)

    def update(self, job_id: int, **values: Any) -> None:
        for key, value in values.items():
            if isinstance(value, enum.Enum):
                values[key] = value.value
        with self._store.session() as s:
            s.execute(update(ImportJob).where(ImportJob.id == job_id).values(updated_at=now(), **values))

    def recent(self, actor: str | None = None, limit: int = 50) -> list[JobRecord]:
        query = select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(ImportJob.actor == actor)
        with self._store.session() as s:
            return [_job(j) for j in s.scalars(query).all()]

    def by_state(self) -> dict[str, int]:
        """state -> number of import jobs (the web's metrics)."""
        query = select(ImportJob.state, func.count()).group_by(ImportJob.state)
        with self._store.session() as s:
            return {state: int(n) for state, n in s.execute(query).all()}

    # ---- rows -------------------------------------------------------------------
    def clear_rows(self, job_id: int) -> None:
        with self._store.session() as s:
            s.execute(delete(ImportRow).where(ImportRow.job_id == job_id))

    def add_rows(self, job_id: int, rows: Sequence[dict[str, Any]], validated_rows: int) -> None:
        """Insert a batch of validated rows and advance the job's progress, in one commit."""
        with self._store.session() as s:
            if rows:
                s.execute(insert(ImportRow), [{"job_id": job_id, **r} for r in rows])
            s.execute(update(ImportJob).where(ImportJob.id == job_id)
                      .values(validated_rows=validated_rows, updated_at=now()))

    def rows(self, job_id: int, states: Iterable[RowState] | None = None, after_row: int = 0,
             limit: int = 500) -> list[RowRecord]:
        query = select(_ROWS).where(_ROWS.c.job_id == job_id, _ROWS.c.row > after_row)
        if states is not None:
            query = query.where(_ROWS.c.state.in_([s.value for s in states]))
        with self._store.session() as s:
            return [_row(r) for r in s.execute(query.order_by(_ROWS.c.row).limit(limit)).all()]

    def iter_rows(self, job_id: int, states: Iterable[RowState] | None = None,
                  page: int = 1000) -> Iterator[RowRecord]:
        wanted = list(states) if states is not None else None
        after = 0
        while True:
            batch = self.rows(job_id, wanted, after, page)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].row

    def set_state(self, job_id: int, rows: Sequence[int], state: RowState) -> None:
        with self._store.session() as s:
            for start in range(0, len(rows), 500):
                s.execute(update(ImportRow).where(ImportRow.job_id == job_id,
                                                  ImportRow.row.in_(rows[start:start + 500]))
                          .values(state=state.value))

    def finish_rows(self, job_id: int, outcomes: Sequence[Outcome]) -> None:
        """Each row's outcome and its audit record, committed together (all or none)."""
        at = now()
        states = [{"b_job": job_id, "b_row": o.row, "b_state": o.state.value, "b_column": o.column,
                   "b_reason": o.reason, "b_reason_data": reason_data(o.why)} for o in outcomes]
        audits = [{"at": at, "actor": a["actor"], "origin": a["origin"], "action": a["action"],
                   "object_type": a["object_type"], "object_id": a["object_id"], "domain": a.get("domain"),
                   "before": clean(a.get("before")), "after": clean(a.get("after"))}
                  for o in outcomes if o.audit is not None
                  for a in (o.audit if isinstance(o.audit, list) else [o.audit])]
        with self._store.session() as s:
            if states:
                s.execute(_FINISH_ROW, states)
            if audits:
                s.execute(insert(_AUDIT), audits)
            s.execute(update(ImportJob).where(ImportJob.id == job_id).values(updated_at=at))

    def planned_creates(self, job_id: int, states: Iterable[RowState] = (RowState.PLANNED,)
                        ) -> dict[str, tuple[int, int]]:
        """domain -> (accounts, total quota) of the creates in `states` (by default: still to
        apply, room not booked)."""
        query = (select(ImportRow.domain, func.count(), func.sum(ImportRow.quota))
                 .where(ImportRow.job_id == job_id, ImportRow.action == "create",
                        ImportRow.state.in_([s.value for s in states]))
                 .group_by(ImportRow.domain))
        with self._store.session() as s:
            return {d: (int(n), int(q or 0)) for d, n, q in s.execute(query).all()}

    def mark_reserved(self, job_id: int, domain: str) -> None:
        """The domain's planned creates have their room booked now (one commit)."""
        with self._store.session() as s:
            s.execute(update(ImportRow).where(ImportRow.job_id == job_id, ImportRow.domain == domain,
                                              ImportRow.action == "create",
                                              ImportRow.state == RowState.PLANNED.value)
                      .values(state=RowState.RESERVED.value))

    def reserved_rows(self, job_id: int, domain: str) -> list[int]:
        query = select(ImportRow.row).where(ImportRow.job_id == job_id, ImportRow.domain == domain,
                                            ImportRow.action == "create",
                                            ImportRow.state == RowState.RESERVED.value)
        with self._store.session() as s:
            return [int(r) for (r,) in s.execute(query).all()]

    def domains_with(self, job_id: int, states: Iterable[RowState]) -> set[str]:
        query = (select(ImportRow.domain).distinct()
                 .where(ImportRow.job_id == job_id, ImportRow.state.in_([s.value for s in states]),
                        ImportRow.action.in_(("create", "update"))))
        with self._store.session() as s:
            return {d for (d,) in s.execute(query).all() if d}

    def counts(self, job_id: int) -> dict[tuple[str, str], int]:
        """(action, state) -> number of rows."""
        query = (select(ImportRow.action, ImportRow.state, func.count())
                 .where(ImportRow.job_id == job_id).group_by(ImportRow.action, ImportRow.state))
        out: dict[tuple[str, str], int] = {}
        with self._store.session() as s:
            for a, st, n in s.execute(query).all():
                key = (a, RowState.PLANNED.value if st == RowState.RESERVED.value else st)
                out[key] = out.get(key, 0) + int(n)
        return out
