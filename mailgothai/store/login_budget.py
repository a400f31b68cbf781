"""The login failure budget's tallies (core/login_budget.py) in SQL, in the table
`login_failures` (migration 0003): one row per key, shared by the web, every relay and
the auth policy service Dovecot asks, on every machine that uses this store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select

from mailgothai.core.login_budget import Tally
from mailgothai.store.db import Store
from mailgothai.store.web_state import LoginFailure


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class LoginTallies:
    def __init__(self, store: Store) -> None:
        self._store = store

    def read(self, keys: Iterable[str]) -> dict[str, Tally]:
        with self._store.session() as session:
            rows = session.scalars(select(LoginFailure).where(LoginFailure.key.in_(tuple(keys)))).all()
            return {r.key: Tally(r.failures, _seconds(r.window_start), _seconds(r.locked_until)) for r in rows}

    def write(self, tallies: Mapping[str, Tally]) -> None:
        with self._store.session() as session:
            for key, tally in tallies.items():
                row = session.get(LoginFailure, key)
                if row is None:
                    row = LoginFailure(key=key)
                    session.add(row)
                row.failures = tally.failures
                row.window_start = _at(tally.last_failure)  # the column holds the last failure's time
                row.locked_until = _at(tally.refused_until) if tally.refused_until else None

    def clear(self, keys: Iterable[str]) -> None:
        with self._store.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key.in_(tuple(keys))))

    def forget_before(self, seconds: float) -> int:
        """Rows whose last failure is older than `seconds` (epoch): removed; returns how many."""
        with self._store.session() as session:
            stale = delete(LoginFailure).where(LoginFailure.window_start < _at(seconds))
            done = cast(CursorResult[Any], session.execute(stale))
            return int(done.rowcount or 0)
