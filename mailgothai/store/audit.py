"""The audit log: every change, by whom, from where, before and after. Never a secret."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.sql import Select

from mailgothai.store.db import Store
from mailgothai.store.models import AuditRecord

REDACTED = "[redacted]"
SECRET_WORDS = ("password", "secret", "token", "hash")


@functools.lru_cache(maxsize=4096)  # a few dozen key names, asked for every record
def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


_PLAIN = frozenset((str, int, float, bool, type(None)))


def clean(value: Any) -> Any:
    """JSON-ready copy of value with every secret-named key redacted, at any depth."""
    if type(value) in _PLAIN:  # the usual leaf, answered first (bulk records: 207,074 per load)
        return value
    if isinstance(value, dict):
        return {str(k): (REDACTED if _is_secret(str(k)) else clean(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean(v) for v in value]
    if isinstance(value, enum.Enum):
        return clean(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    origin: str
    action: str
    object_type: str
    object_id: str
    domain: str | None
    before: Any
    after: Any


def _entry(row: AuditRecord) -> AuditEntry:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # SQLite drops the zone
    return AuditEntry(row.id, at, row.actor, row.origin, row.action, row.object_type, row.object_id,
                      row.domain, row.before, row.after)


def _as_stored(bound: datetime) -> datetime:
    """A time bound as `at` is written: in UTC. SQLite keeps a datetime without its zone
    (record() writes UTC), so a bound in another zone compared as given would be off by
    its offset. A naive bound is taken as UTC, as a naive `at` read back is (_entry)."""
    return bound.astimezone(UTC) if bound.tzinfo else bound.replace(tzinfo=UTC)


class AuditLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, *, actor: str, origin: str, action: str, object_type: str, object_id: str,
               domain: str | None = None, before: Any = None, after: Any = None) -> None:
        """Write one record; it is committed when this returns."""
        with self._store.session() as session:
            session.add(AuditRecord(
                at=datetime.now(UTC), actor=actor, origin=origin, action=action,
                object_type=object_type, object_id=object_id, domain=domain,
                before=clean(before), after=clean(after),
            ))

    def record_many(self, records: Iterable[dict[str, Any]], *, before_commit: Callable[[], None] = lambda: None,
                    batch: int = 5000) -> int:
        """Write many records (dicts with record()'s keywords) in one transaction, committed
        only if `before_commit` returns (if it raises, none is). Returns how many."""
        table: Table = AuditRecord.__table__  # type: ignore[assignment]
        at = datetime.now(UTC)
        count = 0
        rows: list[dict[str, Any]] = []
        with self._store.session() as session:
            for r in records:
                rows.append({"at": at, "actor": r["actor"], "origin": r["origin"], "action": r["action"],
                             "object_type": r["object_type"], "object_id": r["object_id"],
                             "domain": r.get("domain"), "before": clean(r.get("before")),
                             "after": clean(r.get("after"))})
                if len(rows) >= batch:
                    session.execute(insert(table), rows)
                    count += len(rows)
                    rows.clear()
            if rows:
                session.execute(insert(table), rows)
                count += len(rows)
            before_commit()
        return count

    @staticmethod
    def _filtered(query: Select[Any], *, domain: str | None = None, actor: str | None = None,
                  action: str | None = None, object_id: str | None = None, since: datetime | None = None,
                  until: datetime | None = None) -> Select[Any]:
        for column, value in ((AuditRecord.domain, domain), (AuditRecord.actor, actor),
                              (AuditRecord.action, action), (AuditRecord.object_id, object_id)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(AuditRecord.at >= _as_stored(since))
        if until is not None:
            query = query.where(AuditRecord.at < _as_stored(until))
        return query

    def query(self, *, limit: int = 100, before_id: int | None = None, **filters: Any) -> list[AuditEntry]:
        """Newest first; pass the last id seen as before_id for the next page."""
        query = self._filtered(select(AuditRecord), **filters)
        if before_id is not None:
            query = query.where(AuditRecord.id < before_id)
        with self._store.session() as session:
            rows = session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit)).all()
            return [_entry(row) for row in rows]

    def newest_id(self, domain: str | None = None) -> int:
        """The id of the newest record (of one domain; 0 if none): every change made through
        the services writes one, from any process, so it tells listings when to re-read."""
        query = select(func.max(AuditRecord.id))
        if domain is not None:
            query = query.where(AuditRecord.domain == domain)
        with self._store.session() as session:
            return int(session.scalar(query) or 0)

    def newest_ids(self, domains: Sequence[str]) -> dict[str, int]:
        """newest_id() of several domains in one query (a domain with no record: absent)."""
        if not domains:
            return {}
        query = (select(AuditRecord.domain, func.max(AuditRecord.id)).where(AuditRecord.domain.in_(list(domains)))
                 .group_by(AuditRecord.domain))
        with self._store.session() as session:
            return {str(domain): int(newest) for domain, newest in session.execute(query).all()}

    def count(self, **filters: Any) -> int:
        query = self._filtered(select(func.count()).select_from(AuditRecord), **filters)
        with self._store.session() as session:
            return int(session.scalar(query) or 0)
