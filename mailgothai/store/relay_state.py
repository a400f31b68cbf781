"""The relay's rows in the SQL store: DKIM key records and hourly send counters.

The counters are shared by every relay using the same database: one statement adds a
message's recipients to the hour's row only while the sum stays within the limit
(an upsert with a condition, atomic in SQLite and PostgreSQL alike), so two relays
can never together let an account past its limit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.errors import StoreError
from mailgothai.store.db import Store
from mailgothai.store.models import Base


class KeyState(enum.StrEnum):
    PENDING = "pending"  # published for DNS, not signing yet
    ACTIVE = "active"  # signing
    RETIRING = "retiring"  # replaced; its record stays published a while
    RETIRED = "retired"  # private key deleted; record may be removed


class DkimKeyRow(Base):
    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("domain", "selector", name="uq_dkim_keys_domain_selector"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    domain: Mapped[str] = mapped_column(String(253), index=True)
    selector: Mapped[str] = mapped_column(String(63))
    algorithm: Mapped[str] = mapped_column(String(16))  # rsa | ed25519
    state: Mapped[str] = mapped_column(String(16))
    public_record: Mapped[str] = mapped_column(Text)  # the DNS TXT record text
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    switch_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retire_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SendCounterRow(Base):
    __tablename__ = "relay_send_counters"

    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # hours since the epoch, UTC
    recipients: Mapped[int] = mapped_column(Integer)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    algorithm: str
    state: KeyState
    public_record: str
    created_at: datetime
    switch_after: datetime | None = None
    activated_at: datetime | None = None
    retire_after: datetime | None = None
    retired_at: datetime | None = None


def _key(row: DkimKeyRow) -> DkimKey:
    return DkimKey(row.domain, row.selector, row.algorithm, KeyState(row.state), row.public_record,
                   _utc(row.created_at) or row.created_at, _utc(row.switch_after), _utc(row.activated_at),
                   _utc(row.retire_after), _utc(row.retired_at))


class DkimKeyRecords:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, key: DkimKey) -> None:
        with self._store.session() as session:
            session.add(DkimKeyRow(domain=key.domain, selector=key.selector, algorithm=key.algorithm,
                                   state=key.state.value, public_record=key.public_record,
                                   created_at=key.created_at, switch_after=key.switch_after,
                                   activated_at=key.activated_at, retire_after=key.retire_after))

    def for_domain(self, domain: str) -> list[DkimKey]:
        with self._store.session() as session:
            rows = session.scalars(select(DkimKeyRow).where(DkimKeyRow.domain == domain)
                                   .order_by(DkimKeyRow.created_at, DkimKeyRow.id)).all()
            return [_key(r) for r in rows]

    def all_live(self) -> list[DkimKey]:
        """Every key not yet retired, of every domain (the relay's signing table)."""
        with self._store.session() as session:
            rows = session.scalars(select(DkimKeyRow).where(DkimKeyRow.state != KeyState.RETIRED.value)
                                   .order_by(DkimKeyRow.domain, DkimKeyRow.created_at, DkimKeyRow.id)).all()
            return [_key(r) for r in rows]

    def get(self, domain: str, selector: str) -> DkimKey | None:
        with self._store.session() as session:
            row = session.scalars(select(DkimKeyRow).where(DkimKeyRow.domain == domain,
                                                           DkimKeyRow.selector == selector)).first()
            return _key(row) if row else None

    def set_state(self, domain: str, selector: str, state: KeyState, *, expect: KeyState | None = None,
                  **times: datetime | None) -> bool:
        """Move a key to `state` (only from `expect`, if given); False if it was not there."""
        query = update(DkimKeyRow).where(DkimKeyRow.domain == domain, DkimKeyRow.selector == selector)
        if expect is not None:
            query = query.where(DkimKeyRow.state == expect.value)
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(query.values(state=state.value, **times)))
            return bool(result.rowcount)

    def delete_domain(self, domain: str) -> None:
        with self._store.session() as session:
            session.execute(delete(DkimKeyRow).where(DkimKeyRow.domain == domain))


class SendCounters:
    """Recipients sent per account and hour, enforced across every relay sharing the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        dialect = store.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"hourly send counters need SQLite or PostgreSQL, not {dialect}")
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._limited = self._statement(limited=True)
        self._unlimited = self._statement(limited=False)

    def add(self, account: str, hour: int, recipients: int, limit: int) -> int | None:
        """Add `recipients` to the account's count for `hour` if the total stays ≤ `limit`
        (0: no limit). Returns the new total, or None when it would pass the limit."""
        if limit and recipients > limit:
            return None
        stmt = self._limited if limit else self._unlimited
        params = {"account": account, "hour": hour, "recipients": recipients, "limit": limit}
        try:
            with self._store.engine.begin() as conn:
                row = conn.execute(stmt, params).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"SQL store: {exc}") from exc
        return int(row[0]) if row else None

    def _statement(self, limited: bool) -> Any:
        """One upsert, built once: insert the hour's row, or add to it — with a limit,
        only while the sum stays within it (then no row comes back)."""
        table = cast(Table, SendCounterRow.__table__)
        stmt = self._insert(table).values(account=bindparam("account"), hour=bindparam("hour"),
                                          recipients=bindparam("recipients"))
        new_total = table.c.recipients + stmt.excluded.recipients
        return stmt.on_conflict_do_update(
            index_elements=[table.c.account, table.c.hour], set_={"recipients": new_total},
            where=(new_total <= bindparam("limit")) if limited else None,
        ).returning(table.c.recipients)

    def count(self, account: str, hour: int) -> int:
        with self._store.session() as session:
            value = session.scalar(select(SendCounterRow.recipients).where(
                SendCounterRow.account == account, SendCounterRow.hour == hour))
            return int(value or 0)

    def prune(self, before_hour: int) -> int:
        with self._store.session() as session:
            old = delete(SendCounterRow).where(SendCounterRow.hour < before_hour)
            result = cast(CursorResult[Any], session.execute(old))
            return int(result.rowcount)
