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

from mailgothai.services.auth import Clock, utcnow
from mailgothai.store.db import Store
from mailgothai.store.web_sessions import SessionRecord, SessionRecords

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
    subject: str = ""  # a mail user's: the account's mailbox id at login (its address may change hands)


class SessionStore:
    def __init__(self, store: Store, idle: int, max_age: int, clock: Clock = utcnow) -> None:
        self._records = SessionRecords(store)
        self.idle = timedelta(seconds=idle)
        self.max_age = timedelta(seconds=max_age)
        self._clock = clock

    def create(self, kind: str, login: str, ip: str, stage: str = "ok", subject: str = "") -> SessionInfo:
        now = self._clock()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._records.add(SessionRecord(token_hash(token), kind, login, csrf, stage, created_at=now,
                                        last_seen_at=now, expires_at=now + self.max_age, ip=ip, subject=subject))
        return SessionInfo(token, kind, login, csrf, stage, now, subject)

    def load(self, token: str) -> SessionInfo | None:
        """The live session for a cookie token, or None (unknown, idle too long, expired)."""
        if not token or len(token) > 128:
            return None
        now = self._clock()
        key = token_hash(token)
        row = self._records.get(key)
        if row is None:
            return None
        if row.expires_at <= now or now - row.last_seen_at > self.idle:
            self._records.remove(key)
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            self._records.touch(key, now)
        return SessionInfo(token, row.kind, row.login, row.csrf_token, row.stage, row.created_at, row.subject)

    def set_stage(self, token: str, stage: str) -> SessionInfo | None:
        """Move a session on (second factor done) under a new token: no fixation."""
        old = self.load(token)
        if old is None:
            return None
        self.end(token)
        new_token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        self._records.add(SessionRecord(token_hash(new_token), old.kind, old.login, csrf, stage,
                                        created_at=old.created_at, last_seen_at=now,
                                        expires_at=old.created_at + self.max_age, subject=old.subject))
        return SessionInfo(new_token, old.kind, old.login, csrf, stage, old.created_at, old.subject)

    def end(self, token: str) -> None:
        self._records.remove(token_hash(token))

    def end_all(self, kind: str, login: str, keep: str = "") -> None:
        """Log a person out everywhere (after a password change: except `keep`)."""
        self._records.remove_all_of(kind, login, token_hash(keep) if keep else "")

    def purge_expired(self) -> int:
        return self._records.remove_expired(self._clock())
