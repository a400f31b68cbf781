"""Passwords over time in SQL (issue 20, migration 0010): each domain's lifecycle settings
(core/password_lifecycle.py; a domain without a row has the defaults), and the expiry
warnings sent, one row per (account, expiry time), so each warning goes out once however
often the job runs (a new password has a new expiry time, and gets its own warning)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.core.password_lifecycle import Lifecycle
from mailgothai.core.spam_records import Changed
from mailgothai.errors import StoreError
from mailgothai.store.db import Store
from mailgothai.store.models import Base
from mailgothai.store.times import aware


class LifecycleRow(Base):
    __tablename__ = "password_lifecycle"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    must_change_generated: Mapped[bool] = mapped_column(Boolean)
    must_change_on_create: Mapped[bool] = mapped_column(Boolean)
    max_age_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    warn_days: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[str] = mapped_column(String(255))


class ExpiryWarningRow(Base):
    __tablename__ = "password_expiry_warnings"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _lifecycle(row: LifecycleRow) -> Lifecycle:
    return Lifecycle(bool(row.must_change_generated), bool(row.must_change_on_create),
                     None if row.max_age_days is None else int(row.max_age_days), int(row.warn_days))


class PasswordLifecycles:
    """The adapter (port services/ports.PasswordLifecycles)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, domain: str) -> tuple[Lifecycle, Changed | None]:
        with self._store.session() as session:
            row = session.get(LifecycleRow, domain.lower())
            return (Lifecycle(), None) if row is None else (_lifecycle(row), Changed(aware(row.changed_at),
                                                                                      row.changed_by))

    def set(self, domain: str, lifecycle: Lifecycle, at: datetime, by: str) -> None:
        with self._store.session() as session:
            row = session.get(LifecycleRow, domain.lower())
            if row is None:
                row = LifecycleRow(domain=domain.lower())
                session.add(row)
            row.must_change_generated = lifecycle.must_change_generated
            row.must_change_on_create = lifecycle.must_change_on_create
            row.max_age_days, row.warn_days = lifecycle.max_age_days, lifecycle.warn_days
            row.changed_at, row.changed_by = at, by

    def with_expiry(self) -> dict[str, Lifecycle]:
        """The domains whose passwords expire, and their settings."""
        with self._store.session() as session:
            rows = session.scalars(select(LifecycleRow).where(LifecycleRow.max_age_days.is_not(None))).all()
            return {row.domain: _lifecycle(row) for row in rows}

    def drop_domain(self, domain: str) -> None:
        with self._store.session() as session:
            session.execute(delete(LifecycleRow).where(LifecycleRow.domain == domain.lower()))

    def claim_warning(self, email: str, expires_at: datetime, at: datetime) -> bool:
        """Record that the warning for this expiry goes out now; False if it already did
        (or another run claimed it first: the primary key decides)."""
        try:
            with self._store.session() as session:
                session.add(ExpiryWarningRow(email=email.lower(), expires_at=expires_at, sent_at=at))
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return True

    def release_warning(self, email: str, expires_at: datetime) -> None:
        """The warning could not be sent: the next run tries again."""
        with self._store.session() as session:
            session.execute(delete(ExpiryWarningRow).where(ExpiryWarningRow.email == email.lower(),
                                                           ExpiryWarningRow.expires_at == expires_at))

    def move_warnings(self, old: str, new: str) -> None:
        """The renamed account's warnings follow it: the next run does not warn it again
        for the same expiry (a former holder's rows at the new address are dropped first)."""
        with self._store.session() as session:
            session.execute(delete(ExpiryWarningRow).where(ExpiryWarningRow.email == new.lower()))
            session.execute(update(ExpiryWarningRow).where(ExpiryWarningRow.email == old.lower())
                            .values(email=new.lower()))

    def drop_warnings(self, email: str) -> None:
        with self._store.session() as session:
            session.execute(delete(ExpiryWarningRow).where(ExpiryWarningRow.email == email.lower()))

    def forget_warnings(self, before: datetime) -> int:
        """Warnings of expiry times long past (housekeeping)."""
        with self._store.session() as session:
            result = session.execute(delete(ExpiryWarningRow).where(ExpiryWarningRow.expires_at < before))
            return int(getattr(result, "rowcount", 0) or 0)
