"""The login failure budget's tallies (core/login_budget.py) in SQL, in the table
`login_failures` (migration 0003): one row per key, shared by the web, every relay and
the auth policy service Dovecot asks, on every machine that uses this store.

Parallel attempts meet here, so nothing is a read followed by a write: a failure is added by
one upsert per key (`add_failures`: INSERT … ON CONFLICT DO UPDATE failures + 1), and a
pair's failure (`update_locked`) reads and writes the pair's row in one transaction that
holds it (PostgreSQL: SELECT … FOR UPDATE; SQLite: the write lock its first statement
takes), so the next one for that pair sees what it wrote. (The attempts in flight are each
process's own: services/login_budget.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailgothai.core.login_budget import Tally
from mailgothai.errors import StoreError
from mailgothai.store.db import Store
from mailgothai.store.web_state import LoginFailure


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


_TABLE = cast(Table, LoginFailure.__table__)


def _values(key: str, tally: Tally) -> dict[str, Any]:
    return {"key": key, "failures": tally.failures,
            "window_start": _at(tally.last_failure),  # the column holds the last failure's time
            "locked_until": _at(tally.refused_until) if tally.refused_until else None}


class LoginTallies:
    def __init__(self, store: Store) -> None:
        self._store = store
        dialect = store.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"the login budget needs SQLite or PostgreSQL, not {dialect}")
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert

    @staticmethod
    def _read(session: Session, keys: Iterable[str], lock: bool = False) -> dict[str, Tally]:
        query = select(LoginFailure).where(LoginFailure.key.in_(tuple(keys)))
        rows = session.scalars(query.with_for_update() if lock else query).all()
        return {r.key: Tally(r.failures, _seconds(r.window_start), _seconds(r.locked_until)) for r in rows}

    def read(self, keys: Iterable[str]) -> dict[str, Tally]:
        with self._store.session() as session:
            return self._read(session, keys)

    def _put(self, session: Session, tallies: Mapping[str, Tally]) -> None:
        """Each tally as given, its row made or replaced in one statement (no get-then-insert:
        two of those at once made one fail on the primary key)."""
        for key in sorted(tallies):
            stmt = self._insert(_TABLE).values(**_values(key, tallies[key]))
            session.execute(stmt.on_conflict_do_update(index_elements=[_TABLE.c.key], set_={
                "failures": stmt.excluded.failures, "window_start": stmt.excluded.window_start,
                "locked_until": stmt.excluded.locked_until}))

    def update_locked(self, key: str, others: Iterable[str],
                      change: Callable[[dict[str, Tally]], Mapping[str, Tally | None]]) -> dict[str, Tally]:
        """`key`'s row held for one transaction: `change` gets the tallies of `key` and
        `others` as they are now and returns the tallies to write (None: remove), which are
        written before any other transaction can hold `key`. Returns the tallies `change`
        got. Rows `change` writes besides `key` must be written only under `key` (a pair's
        hold): `others` are read, not held, so no two of these wait on each other."""
        with self._store.session() as session:
            # The row must exist to be held. The placeholder (no failures, the last one at the
            # epoch: long forgotten) is never seen by another transaction: it is replaced or
            # removed below. On SQLite this write takes the database's write lock before
            # anything is read, so the reads below are the latest.
            placeholder = self._insert(_TABLE).values(**_values(key, Tally(0, 0.0)))
            session.execute(placeholder.on_conflict_do_nothing(index_elements=[_TABLE.c.key]))
            tallies = self._read(session, [key], lock=True)
            tallies.update(self._read(session, [k for k in others if k != key]))
            if key in tallies and not tallies[key].failures:
                del tallies[key]  # the placeholder: no tally yet
            changes = dict(change(dict(tallies)))
            if key not in changes and key not in tallies:
                changes[key] = None  # the placeholder goes
            written = {k: t for k, t in changes.items() if t is not None}
            if written:
                self._put(session, written)
            gone = tuple(k for k, t in changes.items() if t is None)
            if gone:
                session.execute(delete(LoginFailure).where(LoginFailure.key.in_(gone)))
            return tallies

    def add_failures(self, keys: Iterable[str], now: float, window: float) -> None:
        """One more failure at `now` for each key, in one statement per key that adds to the
        row as it is when written (none is lost to another writer at the same time); a tally
        whose last failure is more than `window` seconds old starts again at one."""
        for key in sorted(set(keys)):
            stmt = self._insert(_TABLE).values(**_values(key, Tally(1, now)))
            with self._store.session() as session:
                session.execute(stmt.on_conflict_do_update(index_elements=[_TABLE.c.key], set_={
                    "failures": case((_TABLE.c.window_start < _at(now - window), 1),
                                     else_=_TABLE.c.failures + 1),
                    "window_start": stmt.excluded.window_start}))

    def clear(self, keys: Iterable[str]) -> None:
        with self._store.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key.in_(tuple(keys))))

    def forget_before(self, seconds: float) -> int:
        """Rows whose last failure is older than `seconds` (epoch): removed; returns how many."""
        with self._store.session() as session:
            stale = delete(LoginFailure).where(LoginFailure.window_start < _at(seconds))
            done = cast(CursorResult[Any], session.execute(stale))
            return int(done.rowcount or 0)
