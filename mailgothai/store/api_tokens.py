"""API tokens in SQL (table `api_tokens`, migration 0003): the secret only as its
SHA-256. Who may see or revoke which token is services/tokens.py's business."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from mailgothai.store.db import Store
from mailgothai.store.times import aware, aware_or_none
from mailgothai.store.web_state import ApiToken


@dataclass(frozen=True)
class TokenRecord:
    id: str
    admin_login: str
    name: str
    secret_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


def _record(row: ApiToken) -> TokenRecord:
    return TokenRecord(row.id, row.admin_login, row.name, row.secret_hash, aware(row.created_at),
                       aware_or_none(row.last_used_at), aware_or_none(row.expires_at), aware_or_none(row.revoked_at))


class TokenRecords:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, record: TokenRecord) -> None:
        with self._store.session() as session:
            session.add(ApiToken(id=record.id, admin_login=record.admin_login, name=record.name,
                                 secret_hash=record.secret_hash, created_at=record.created_at,
                                 last_used_at=record.last_used_at, expires_at=record.expires_at,
                                 revoked_at=record.revoked_at))

    def get(self, token_id: str) -> TokenRecord | None:
        with self._store.session() as session:
            row = session.get(ApiToken, token_id)
            return _record(row) if row is not None else None

    def newest_first(self, admin_login: str | None = None) -> list[TokenRecord]:
        """Every token (of one admin, if given), the newest first."""
        query = select(ApiToken).order_by(ApiToken.created_at.desc())
        if admin_login is not None:
            query = query.where(ApiToken.admin_login == admin_login)
        with self._store.session() as session:
            return [_record(r) for r in session.scalars(query).all()]

    def revoke(self, token_id: str, at: datetime) -> TokenRecord | None:
        """Revoked at `at` unless it already was; the token as it is now (None: no such token)."""
        with self._store.session() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = at
            return _record(row)

    def revoke_live_of(self, admin_login: str, at: datetime, keep: str = "") -> list[str]:
        """Revoke every live token of an admin except the one with id `keep`; their ids."""
        with self._store.session() as session:
            rows = session.scalars(select(ApiToken).where(ApiToken.admin_login == admin_login,
                                                          ApiToken.revoked_at.is_(None))).all()
            ended = [row for row in rows if row.id != keep]
            for row in ended:
                row.revoked_at = at
            return [row.id for row in ended]

    def mark_used(self, token_id: str, at: datetime) -> None:
        with self._store.session() as session:
            row = session.get(ApiToken, token_id)
            if row is not None:
                row.last_used_at = at
