"""The quarantine's index in SQL (tables `quarantine_messages` and `quarantine_recipients`,
migration 0008): one row per message the relay kept (its file is on that relay's node,
store/quarantine_files.py) and one per recipient with its state. A release or a delete
moves a recipient out of `held` by a conditional UPDATE (`WHERE state = 'held'`), so of two
clicks at once one wins and the other changes nothing; the relay of the message's node
polls `requested` (an indexed query) and marks each one `released` once spooled."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.core.quarantine import WAITING, Held, Recipient, State
from mailgothai.store.db import Store
from mailgothai.store.models import Base
from mailgothai.store.times import aware, aware_or_none

CHUNK = 500


class QuarantineMessageRow(Base):
    __tablename__ = "quarantine_messages"
    __table_args__ = (Index("ix_quarantine_messages_received", "received_at"),
                      Index("ix_quarantine_messages_node_expires", "node", "expires_at"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    node: Mapped[str] = mapped_column(String(253))
    domain: Mapped[str] = mapped_column(String(253))
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    score: Mapped[float] = mapped_column(Float)
    symbols: Mapped[Any] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QuarantineRecipientRow(Base):
    __tablename__ = "quarantine_recipients"
    __table_args__ = (Index("ix_quarantine_recipients_message", "message_id"),
                      Index("ix_quarantine_recipients_address", "address"),
                      Index("ix_quarantine_recipients_domain", "domain", "message_id"),
                      Index("ix_quarantine_recipients_state", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("quarantine_messages.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    original: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(253))  # whose admins see it: Recipient.domain
    local: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(20))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


def _recipient(row: QuarantineRecipientRow) -> Recipient:
    return Recipient(row.id, row.address, row.original, row.local, State(row.state),
                     aware_or_none(row.released_at), row.released_by, row.domain)


def _held(row: QuarantineMessageRow, recipients: Iterable[QuarantineRecipientRow]) -> Held:
    return Held(row.id, row.node, row.domain, row.sender, row.subject, row.score,
                {str(k): float(v) for k, v in (row.symbols or {}).items()}, row.size,
                aware(row.received_at), aware(row.expires_at),
                tuple(_recipient(r) for r in sorted(recipients, key=lambda r: r.id)))


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


class QuarantineIndex:
    def __init__(self, store: Store) -> None:
        self._store = store

    # ---- the relay ---------------------------------------------------------------------
    def add(self, held: Held) -> None:
        with self._store.session() as session:
            session.add(QuarantineMessageRow(
                id=held.id, node=held.node, domain=held.domain, sender=held.sender, subject=held.subject,
                score=held.score, symbols=dict(held.symbols), size=held.size, received_at=held.received_at,
                expires_at=held.expires_at))
            session.flush()
            for r in held.recipients:
                session.add(QuarantineRecipientRow(message_id=held.id, address=r.address, original=r.original,
                                                   domain=r.domain, local=r.local, state=r.state.value))

    def requested(self, node: str) -> list[tuple[Held, Recipient]]:
        """The recipients of this node's messages asked to be released (state index first)."""
        with self._store.session() as session:
            rows = session.execute(
                select(QuarantineRecipientRow, QuarantineMessageRow)
                .join(QuarantineMessageRow, QuarantineMessageRow.id == QuarantineRecipientRow.message_id)
                .where(QuarantineRecipientRow.state == State.RELEASE_REQUESTED.value,
                       QuarantineMessageRow.node == node)
                .order_by(QuarantineRecipientRow.id)).all()
            return [(_held(m, ()), _recipient(r)) for r, m in rows]

    def mark_released(self, recipient_id: int) -> bool:
        with self._store.session() as session:
            result = session.execute(
                update(QuarantineRecipientRow)
                .where(QuarantineRecipientRow.id == recipient_id,
                       QuarantineRecipientRow.state == State.RELEASE_REQUESTED.value)
                .values(state=State.RELEASED.value, released_at=datetime.now(UTC)))
            return bool(getattr(result, "rowcount", 0))

    def expired(self, node: str, now: datetime, limit: int = 500) -> list[str]:
        with self._store.session() as session:
            return list(session.scalars(
                select(QuarantineMessageRow.id)
                .where(QuarantineMessageRow.node == node, QuarantineMessageRow.expires_at <= now)
                .order_by(QuarantineMessageRow.expires_at).limit(limit)))

    def forget(self, message_ids: Sequence[str]) -> None:
        with self._store.session() as session:
            for part in _chunks(list(message_ids)):
                session.execute(delete(QuarantineRecipientRow).where(QuarantineRecipientRow.message_id.in_(part)))
                session.execute(delete(QuarantineMessageRow).where(QuarantineMessageRow.id.in_(part)))

    def waiting(self, message_ids: Sequence[str]) -> set[str]:
        """Of these ids, those with a row that a recipient still holds (held or asked for)."""
        out: set[str] = set()
        with self._store.session() as session:
            for part in _chunks(list(message_ids)):
                out.update(session.scalars(
                    select(QuarantineRecipientRow.message_id).distinct()
                    .where(QuarantineRecipientRow.message_id.in_(part),
                           QuarantineRecipientRow.state.in_([s.value for s in WAITING]))))
        return out

    def known(self, message_ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        with self._store.session() as session:
            for part in _chunks(list(message_ids)):
                out.update(session.scalars(select(QuarantineMessageRow.id).where(QuarantineMessageRow.id.in_(part))))
        return out

    # ---- the services ------------------------------------------------------------------
    def page(self, *, domains: Sequence[str] | None = None, address: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Held]:
        """Newest first: the messages with a recipient in these domains (None: every
        domain), or with `address` among their recipients; each with those recipients only."""
        with self._store.session() as session:
            query = select(QuarantineMessageRow)
            if address is not None:
                query = query.where(QuarantineMessageRow.id.in_(
                    select(QuarantineRecipientRow.message_id).where(QuarantineRecipientRow.address == address)))
            if domains is not None:
                query = query.where(QuarantineMessageRow.id.in_(
                    select(QuarantineRecipientRow.message_id).where(QuarantineRecipientRow.domain.in_(list(domains)))))
            messages = session.scalars(query.order_by(QuarantineMessageRow.received_at.desc(),
                                                      QuarantineMessageRow.id).offset(offset).limit(limit)).all()
            by_id: dict[str, list[QuarantineRecipientRow]] = {m.id: [] for m in messages}
            if by_id:
                recipients = select(QuarantineRecipientRow).where(QuarantineRecipientRow.message_id.in_(list(by_id)))
                if address is not None:
                    recipients = recipients.where(QuarantineRecipientRow.address == address)
                if domains is not None:
                    recipients = recipients.where(QuarantineRecipientRow.domain.in_(list(domains)))
                for r in session.scalars(recipients):
                    by_id[r.message_id].append(r)
            return [_held(m, by_id[m.id]) for m in messages]

    def get(self, message_id: str) -> Held | None:
        with self._store.session() as session:
            row = session.get(QuarantineMessageRow, message_id)
            if row is None:
                return None
            recipients = session.scalars(select(QuarantineRecipientRow)
                                         .where(QuarantineRecipientRow.message_id == message_id)).all()
            return _held(row, recipients)

    def drop_address(self, address: str) -> int:
        """Every recipient row of `address` (held, released or deleted): the messages are
        no longer anyone's there (a held one's file goes at the relay's next sweep)."""
        with self._store.session() as session:
            result = session.execute(delete(QuarantineRecipientRow).where(QuarantineRecipientRow.address == address))
            return int(getattr(result, "rowcount", 0) or 0)

    def move_address(self, old: str, new: str) -> int:
        """The recipient rows of `old` are `new`'s (the mailbox a release delivers to; the
        RCPT TO the sender wrote, and the domain whose admins see them, stay)."""
        with self._store.session() as session:
            result = session.execute(update(QuarantineRecipientRow).where(QuarantineRecipientRow.address == old)
                                     .values(address=new))
            return int(getattr(result, "rowcount", 0) or 0)

    def move(self, message_id: str, recipient_ids: Sequence[int], to: State, by: str) -> list[int]:
        """Held recipients to `to` (release_requested or deleted), each by a conditional
        UPDATE: returns those this call moved (a recipient moved already is left alone)."""
        moved: list[int] = []
        with self._store.session() as session:
            for rid in recipient_ids:
                result = session.execute(
                    update(QuarantineRecipientRow)
                    .where(QuarantineRecipientRow.id == rid, QuarantineRecipientRow.message_id == message_id,
                           QuarantineRecipientRow.state == State.HELD.value)
                    .values(state=to.value, released_by=by[:255]))
                if getattr(result, "rowcount", 0):
                    moved.append(rid)
        return moved
