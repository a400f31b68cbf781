"""The admin web's browser sessions in SQL (table `web_sessions`, migration 0003), keyed
by the SHA-256 of the cookie's token. The rules (idle and absolute expiry, when to touch)
are services/sessions.py's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete

from mailgothai.store.db import Store
from mailgothai.store.times import aware
from mailgothai.store.web_state import WebSession


@dataclass(frozen=True)
class SessionRecord:
    token_hash: str
    kind: str
    login: str
    csrf_token: str
    stage: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str = ""
    subject: str = ""  # a mail user's mailbox id


class SessionRecords:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, record: SessionRecord) -> None:
        with self._store.session() as session:
            session.add(WebSession(token_hash=record.token_hash, kind=record.kind, login=record.login,
                                   csrf_token=record.csrf_token, created_at=record.created_at,
                                   last_seen_at=record.last_seen_at, expires_at=record.expires_at,
                                   stage=record.stage, ip=record.ip[:64], subject=record.subject))

    def get(self, token_hash: str) -> SessionRecord | None:
        with self._store.session() as session:
            row = session.get(WebSession, token_hash)
            if row is None:
                return None
            return SessionRecord(row.token_hash, row.kind, row.login, row.csrf_token, row.stage,
                                 aware(row.created_at), aware(row.last_seen_at), aware(row.expires_at), row.ip,
                                 row.subject or "")

    def touch(self, token_hash: str, at: datetime) -> None:
        with self._store.session() as session:
            row = session.get(WebSession, token_hash)
            if row is not None:
                row.last_seen_at = at

    def remove(self, token_hash: str) -> None:
        with self._store.session() as session:
            session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))

    def remove_all_of(self, kind: str, login: str, keep_hash: str = "") -> None:
        """Every session of one person, except the one whose token hashes to keep_hash."""
        with self._store.session() as session:
            query = delete(WebSession).where(WebSession.kind == kind, WebSession.login == login)
            if keep_hash:
                query = query.where(WebSession.token_hash != keep_hash)
            session.execute(query)

    def remove_expired(self, now: datetime) -> int:
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(delete(WebSession).where(WebSession.expires_at <= now)))
            return int(result.rowcount or 0)
