"""Browser sessions of the admin web, kept server-side in SQL.

The cookie carries a random token; the table keeps only its SHA-256, so a copy of the
database logs nobody in. A session ends after `idle` seconds without a request and
`max_age` seconds after login, whichever comes first, and at logout.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete

from mailgothai.services.auth import Clock, aware, utcnow
from mailgothai.store.db import Store
from mailgothai.store.web_state import WebSession

TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    token: str
    kind: str  # "admin" | "user"
    login: str
    csrf_token: str
    stage: str  # "ok" | "totp" (second factor due) | "enrol" (TOTP set-up due)
    created_at: datetime


class SessionStore:
    def __init__(self, store: Store, idle: int, max_age: int, clock: Clock = utcnow) -> None:
        self._store = store
        self.idle = timedelta(seconds=idle)
        self.max_age = timedelta(seconds=max_age)
        self._clock = clock

    def create(self, kind: str, login: str, ip: str, stage: str = "ok") -> SessionInfo:
        now = self._clock()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._store.session() as session:
            session.add(WebSession(token_hash=token_hash(token), kind=kind, login=login, csrf_token=csrf,
                                   created_at=now, last_seen_at=now, expires_at=now + self.max_age,
                                   stage=stage, ip=ip[:64]))
        return SessionInfo(token, kind, login, csrf, stage, now)

    def load(self, token: str) -> SessionInfo | None:
        """The live session for a cookie token, or None (unknown, idle too long, expired)."""
        if not token or len(token) > 128:
            return None
        now = self._clock()
        key = token_hash(token)
        with self._store.session() as session:
            row = session.get(WebSession, key)
            if row is None:
                return None
            if aware(row.expires_at) <= now or now - aware(row.last_seen_at) > self.idle:
                session.delete(row)
                return None
            if now - aware(row.last_seen_at) > TOUCH_EVERY:
                row.last_seen_at = now
            return SessionInfo(token, row.kind, row.login, row.csrf_token, row.stage, aware(row.created_at))

    def set_stage(self, token: str, stage: str) -> SessionInfo | None:
        """Move a session on (second factor done) under a new token: no fixation."""
        old = self.load(token)
        if old is None:
            return None
        self.end(token)
        new_token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        with self._store.session() as session:
            session.add(WebSession(token_hash=token_hash(new_token), kind=old.kind, login=old.login, csrf_token=csrf,
                                   created_at=old.created_at, last_seen_at=now,
                                   expires_at=old.created_at + self.max_age, stage=stage, ip=""))
        return SessionInfo(new_token, old.kind, old.login, csrf, stage, old.created_at)

    def end(self, token: str) -> None:
        with self._store.session() as session:
            session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))

    def end_all(self, kind: str, login: str, keep: str = "") -> None:
        """Log a person out everywhere (after a password change: except `keep`)."""
        with self._store.session() as session:
            query = delete(WebSession).where(WebSession.kind == kind, WebSession.login == login)
            if keep:
                query = query.where(WebSession.token_hash != token_hash(keep))
            session.execute(query)

    def purge_expired(self) -> int:
        now = self._clock()
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(delete(WebSession).where(WebSession.expires_at <= now)))
            return int(result.rowcount or 0)
