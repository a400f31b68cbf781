"""Password policies in SQL (issue 20, migration 0009): the operator's floor (one row) and
each domain's own policy. Values come in already checked (services/password_policy.py:
a domain's own policy only tightens the floor); this module stores them.

`effective(domain)` — what a new password of that domain is checked against — is asked
at every password set and at every row of an import: its answers are kept CACHE_SECONDS
per domain in this process, and dropped at once by a change made through this adapter
(a change made by another process is seen within CACHE_SECONDS).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Boolean, CursorResult, DateTime, Integer, String, delete
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.core.password_policy import CLASS_ORDER, CharClass, PasswordPolicy, strictest
from mailgothai.core.spam_records import Changed
from mailgothai.store.db import Store
from mailgothai.store.models import Base
from mailgothai.store.times import aware

FLOOR_ID = 1
CACHE_SECONDS = 30.0


class _PasswordPolicyColumns:
    """A PasswordPolicy's columns, and who changed it when: the floor and a domain's row alike."""

    min_length: Mapped[int] = mapped_column(Integer)
    required_classes: Mapped[str] = mapped_column(String(32))
    min_classes: Mapped[int] = mapped_column(Integer)
    forbid_personal: Mapped[bool] = mapped_column(Boolean)
    min_strength: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[str] = mapped_column(String(255))


class PasswordPolicyRow(_PasswordPolicyColumns, Base):
    __tablename__ = "password_policies"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)


class PasswordFloorRow(_PasswordPolicyColumns, Base):
    __tablename__ = "password_floor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


def _policy(row: _PasswordPolicyColumns) -> PasswordPolicy:
    required = frozenset(CharClass(name) for name in row.required_classes.split(",") if name)
    return PasswordPolicy(min_length=int(row.min_length), required=required, min_classes=int(row.min_classes),
                          forbid_personal=bool(row.forbid_personal), min_strength=int(row.min_strength))


def _write(row: _PasswordPolicyColumns, policy: PasswordPolicy, by: str) -> None:
    row.min_length, row.min_classes = policy.min_length, policy.min_classes
    row.required_classes = ",".join(c.value for c in CLASS_ORDER if c in policy.required)
    row.forbid_personal, row.min_strength = policy.forbid_personal, policy.min_strength
    row.changed_at, row.changed_by = datetime.now(UTC), by


class PasswordPolicies:
    """The adapter (port services/ports.PasswordPolicies)."""

    def __init__(self, store: Store, cache_seconds: float = CACHE_SECONDS) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, PasswordPolicy]] = {}
        self._lock = threading.Lock()

    def effective(self, domain: str) -> PasswordPolicy:
        """The domain's own policy made at least as strict as the floor (the floor alone
        if it has none; the built-in floor until the operator sets one)."""
        domain = domain.lower()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(domain)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        with self._store.session() as session:
            own = session.get(PasswordPolicyRow, domain)
            floor = session.get(PasswordFloorRow, FLOOR_ID)
            policy = strictest(_policy(own) if own is not None else None,
                               _policy(floor) if floor is not None else PasswordPolicy())
        with self._lock:
            self._cache[domain] = (now, policy)
        return policy

    def _forget(self, domain: str | None = None) -> None:
        with self._lock:
            if domain is None:
                self._cache.clear()
            else:
                self._cache.pop(domain.lower(), None)

    def floor(self) -> tuple[PasswordPolicy, Changed | None]:
        """The operator's floor (the built-in one, never changed, until set)."""
        with self._store.session() as session:
            row = session.get(PasswordFloorRow, FLOOR_ID)
            if row is None:
                return PasswordPolicy(), None
            return _policy(row), Changed(aware(row.changed_at), row.changed_by)

    def set_floor(self, policy: PasswordPolicy, by: str) -> None:
        with self._store.session() as session:
            row = session.get(PasswordFloorRow, FLOOR_ID)
            if row is None:
                row = PasswordFloorRow(id=FLOOR_ID)
                session.add(row)
            _write(row, policy, by)
        self._forget()

    def own_policy(self, domain: str) -> tuple[PasswordPolicy, Changed] | None:
        """The domain's own policy (None: the floor applies)."""
        with self._store.session() as session:
            row = session.get(PasswordPolicyRow, domain.lower())
            return (_policy(row), Changed(aware(row.changed_at), row.changed_by)) if row is not None else None

    def set_policy(self, domain: str, policy: PasswordPolicy, by: str) -> None:
        with self._store.session() as session:
            row = session.get(PasswordPolicyRow, domain.lower())
            if row is None:
                row = PasswordPolicyRow(domain=domain.lower())
                session.add(row)
            _write(row, policy, by)
        self._forget(domain)

    def drop_policy(self, domain: str) -> bool:
        """The domain follows the floor again; False if it had no policy of its own."""
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(
                delete(PasswordPolicyRow).where(PasswordPolicyRow.domain == domain.lower())))
        self._forget(domain)
        return bool(result.rowcount)
