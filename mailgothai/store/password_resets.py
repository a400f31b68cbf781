"""Self-service password reset in SQL (issue 20, migration 0012): each account's recovery
address (by mailbox id, so a rename keeps it and a new account at an old address does not
inherit it), the links sent (only the SHA-256 of each token), and the reset requests the
throttle counts.

`use` takes a token in one conditional UPDATE (not used, not expired): two clicks, or
two web workers, use a link once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, DateTime, Index, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.store.db import Store
from mailgothai.store.models import Base
from mailgothai.store.times import aware, aware_or_none


class RecoveryAddressRow(Base):
    __tablename__ = "recovery_addresses"

    mailbox_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResetTokenRow(Base):
    __tablename__ = "password_reset_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    mailbox_id: Mapped[str] = mapped_column(String(36), index=True)
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ResetRequestRow(Base):
    __tablename__ = "password_reset_requests"
    __table_args__ = (Index("ix_password_reset_requests_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(330))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class Recovery:
    address: str
    confirmed_at: datetime | None  # None: waiting for its owner to open the confirmation link


@dataclass(frozen=True)
class Token:
    purpose: str
    mailbox_id: str
    address: str
    expires_at: datetime


class PasswordResets:
    def __init__(self, store: Store) -> None:
        self._store = store

    # ---- recovery addresses -----------------------------------------------------------
    def recovery(self, mailbox_id: str) -> Recovery | None:
        with self._store.session() as session:
            row = session.get(RecoveryAddressRow, mailbox_id)
            return Recovery(row.address, aware_or_none(row.confirmed_at)) if row else None

    def set_recovery(self, mailbox_id: str, address: str, at: datetime) -> None:
        """A new address, not confirmed yet (replacing any other, confirmed or not)."""
        with self._store.session() as session:
            row = session.get(RecoveryAddressRow, mailbox_id)
            if row is None:
                session.add(RecoveryAddressRow(mailbox_id=mailbox_id, address=address, confirmed_at=None,
                                               changed_at=at))
            else:
                row.address, row.confirmed_at, row.changed_at = address, None, at

    def confirm_recovery(self, mailbox_id: str, address: str, at: datetime) -> bool:
        """False if the account's address is another by now (the link was for an older one)."""
        query = (update(RecoveryAddressRow)
                 .where(RecoveryAddressRow.mailbox_id == mailbox_id, RecoveryAddressRow.address == address)
                 .values(confirmed_at=at, changed_at=at))
        with self._store.session() as session:
            return bool(cast(CursorResult[Any], session.execute(query)).rowcount)

    def remove_recovery(self, mailbox_id: str) -> bool:
        with self._store.session() as session:
            gone = cast(CursorResult[Any], session.execute(
                delete(RecoveryAddressRow).where(RecoveryAddressRow.mailbox_id == mailbox_id)))
            session.execute(delete(ResetTokenRow).where(ResetTokenRow.mailbox_id == mailbox_id,
                                                        ResetTokenRow.used_at.is_(None)))
            return bool(gone.rowcount)

    # ---- tokens -------------------------------------------------------------------------
    def add_token(self, token_hash: str, purpose: str, mailbox_id: str, address: str, at: datetime,
                  lifetime: int) -> None:
        with self._store.session() as session:
            session.add(ResetTokenRow(token_hash=token_hash, purpose=purpose, mailbox_id=mailbox_id, address=address,
                                      created_at=at, expires_at=at + timedelta(seconds=lifetime), used_at=None))

    def valid(self, token_hash: str, purpose: str, now: datetime) -> Token | None:
        """The token if it is unused and not expired (nothing changes)."""
        with self._store.session() as session:
            row = session.get(ResetTokenRow, token_hash)
            if row is None or row.purpose != purpose or row.used_at is not None or aware(row.expires_at) <= now:
                return None
            return Token(row.purpose, row.mailbox_id, row.address, aware(row.expires_at))

    def use(self, token_hash: str, purpose: str, now: datetime) -> Token | None:
        """Marks the token used, if it was unused and not expired; None otherwise (then
        nothing changed). Once only, however many ask at once."""
        query = (update(ResetTokenRow)
                 .where(ResetTokenRow.token_hash == token_hash, ResetTokenRow.purpose == purpose,
                        ResetTokenRow.used_at.is_(None), ResetTokenRow.expires_at > now)
                 .values(used_at=now))
        with self._store.session() as session:
            if not cast(CursorResult[Any], session.execute(query)).rowcount:
                return None
            row = session.get(ResetTokenRow, token_hash)
            assert row is not None
            return Token(row.purpose, row.mailbox_id, row.address, aware(row.expires_at))

    def void(self, mailbox_id: str, purpose: str, now: datetime) -> int:
        """Every unused link of the account for `purpose` stops working (a new password was set)."""
        query = (update(ResetTokenRow)
                 .where(ResetTokenRow.mailbox_id == mailbox_id, ResetTokenRow.purpose == purpose,
                        ResetTokenRow.used_at.is_(None))
                 .values(used_at=now))
        with self._store.session() as session:
            return int(cast(CursorResult[Any], session.execute(query)).rowcount)

    # ---- the throttle's counts --------------------------------------------------------
    def count(self, keys: Iterable[str], now: datetime, window: int) -> dict[str, int]:
        """How many requests each key made in the last `window` seconds (requests older
        than the window are forgotten)."""
        keys = list(keys)
        since = now - timedelta(seconds=window)
        with self._store.session() as session:
            session.execute(delete(ResetRequestRow).where(ResetRequestRow.at < since))
            rows = session.execute(select(ResetRequestRow.key, func.count())
                                   .where(ResetRequestRow.key.in_(keys), ResetRequestRow.at >= since)
                                   .group_by(ResetRequestRow.key)).all()
            return {key: 0 for key in keys} | {str(key): int(n) for key, n in rows}

    def add_requests(self, keys: Iterable[str], now: datetime) -> None:
        with self._store.session() as session:
            session.add_all(ResetRequestRow(key=key, at=now) for key in keys)

    def forget_before(self, at: datetime) -> int:
        """Tokens expired before `at` are removed (used ones too)."""
        with self._store.session() as session:
            return int(cast(CursorResult[Any], session.execute(
                delete(ResetTokenRow).where(ResetTokenRow.expires_at < at))).rowcount)
