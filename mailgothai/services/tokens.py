"""API tokens: created by an admin for itself, acting with that admin's rights as the
directory has them at each request (never more), shown once, stored as a SHA-256 of
the secret, revocable. A token of a suspended or deleted admin stops working.

Creating one asks again for the admin's password, and its TOTP code if it has the second
factor on (services/reauth.py, counted in the login budget): a stolen web session or token
alone cannot mint a way in that outlives it. Every new token expires: after DEFAULT_DAYS
unless 1 to MAX_DAYS days are given (tokens made before this rule keep what they have).

Token text: ``mgt_<id>_<secret>``; the id finds the row, the secret is compared by hash.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailgothai.core.models import Admin, Role, Status
from mailgothai.core.reasons import Why
from mailgothai.core.text import check_text
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.auth import Clock, utcnow
from mailgothai.services.backends import Backends
from mailgothai.services.reauth import reauthenticate_admin
from mailgothai.store.api_tokens import TokenRecord, TokenRecords

TOKEN = re.compile(r"^mgt_([a-f0-9]{16})_([A-Za-z0-9_-]{20,64})$")
DEFAULT_DAYS = 90  # a new token's lifetime when none is given
MAX_DAYS = 365


@dataclass(frozen=True)
class TokenInfo:
    id: str
    admin_login: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str  # shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _info(row: TokenRecord) -> TokenInfo:
    return TokenInfo(row.id, row.admin_login, row.name, row.created_at, row.last_used_at, row.expires_at,
                     row.revoked_at)


class TokenService:
    def __init__(self, backends: Backends, actor: Actor, clock: Clock = utcnow) -> None:
        self.b = backends
        self.actor = actor
        self._clock = clock
        self._records = TokenRecords(backends.store)

    def _audit(self, action: str, token_id: str, after: object = None) -> None:
        self.b.audit.record(actor=self.actor.login, origin=self.actor.origin, action=action,
                            object_type="api_token", object_id=token_id, after=after)

    def create(self, name: str, days: int | str | None = None, *, password: str, code: str = "") -> NewToken:
        """A token for the acting admin itself, valid for `days` (1 to MAX_DAYS; none given:
        DEFAULT_DAYS). `password` is the admin's own, and `code` a fresh TOTP code if it has
        the second factor on: checked (and counted in the login budget) after the name and
        the days, before anything is made."""
        name = check_text(name.strip(), "name", 128)
        if not name:
            raise InvalidInput("name", Why.TOKEN_UNNAMED())
        count = DEFAULT_DAYS
        if days not in (None, ""):
            try:
                count = int(str(days).strip())
            except ValueError:
                raise InvalidInput("days", Why.NOT_WHOLE_DAYS(value=repr(days))) from None
            if not 1 <= count <= MAX_DAYS:
                raise InvalidInput("days", Why.OUT_OF_RANGE(low=1, high=MAX_DAYS))
        reauthenticate_admin(self.b, self.actor.login, password, code, self._clock)
        now = self._clock()
        expires = now + timedelta(days=count)
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = TokenRecord(id=token_id, admin_login=self.actor.login, name=name, secret_hash=_hash(secret),
                          created_at=now, expires_at=expires)
        self._records.add(row)
        self._audit("api_token.create", token_id, {"name": name, "admin": self.actor.login,
                                                   "expires_at": expires})
        return NewToken(_info(row), f"mgt_{token_id}_{secret}")

    def list(self) -> list[TokenInfo]:
        """The acting admin's own tokens; an operator sees everyone's."""
        mine = None if self.actor.role is Role.SUPERADMIN else self.actor.login
        return [_info(r) for r in self._records.newest_first(mine)]

    def revoke(self, token_id: str) -> TokenInfo:
        row = self._records.get(token_id)
        if row is None or (self.actor.role is not Role.SUPERADMIN and row.admin_login != self.actor.login):
            raise NotFound("api_token", token_id)
        revoked = self._records.revoke(token_id, self._clock())
        if revoked is None:
            raise NotFound("api_token", token_id)
        info = _info(revoked)
        self._audit("api_token.revoke", token_id)
        return info

    def revoke_all_of(self, login: str, reason: str, keep: str = "") -> builtins.list[str]:
        """End every live token of admin `login` (called by `AdminService` when its
        password is reset, it is suspended or deleted), except `keep`: the id of the
        token an admin is using to change its own password. One audit record per token,
        naming the reason. The ids revoked."""
        keep = keep if login == self.actor.login else ""
        ended = self._records.revoke_live_of(login, self._clock(), keep)
        for token_id in ended:
            self._audit("api_token.revoke", token_id, {"admin": login, "reason": reason})
        return ended


def token_id(token: str) -> str | None:
    """The id part of a token's text (names the row; proves nothing)."""
    match = TOKEN.match(token.strip())
    return match.group(1) if match else None


def token_login(backends: Backends, token: str, clock: Clock = utcnow) -> str | None:
    """The login of the admin a presented token belongs to, from the SQL store alone;
    None if the token is unknown, wrong, revoked or expired. The admin itself is not
    looked at (see `authenticate`)."""
    match = TOKEN.match(token.strip())
    if not match:
        return None
    token_id, secret = match.groups()
    now = clock()
    records = TokenRecords(backends.store)
    row = records.get(token_id)
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        records.mark_used(token_id, now)
    return row.admin_login


def authenticate(backends: Backends, token: str, clock: Clock = utcnow) -> Admin | None:
    """The admin a presented token acts for, with its current rights; None if the token
    is unknown, wrong, revoked or expired, or its admin is gone or suspended."""
    login = token_login(backends, token, clock)
    if login is None:
        return None
    admin = backends.admins.find(login)
    return admin if admin is not None and admin.status is Status.ACTIVE else None
