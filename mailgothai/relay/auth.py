"""SMTP AUTH against the directory, with a short-lived cache and failure throttling.

The password is checked by slapd (a bind as the account's DN; slapd verifies the
argon2id hash), after the relay has read that the account and its domain are active.
A success is remembered for `ttl` seconds under HMAC-SHA256(process secret, login,
password): the password itself is never kept, and a wrong password never matches.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from mailgothai.core.addresses import normalize_address
from mailgothai.core.throttle import FailureThrottle
from mailgothai.directory.gateway import Gateway
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.relay.lookup import RelayDirectory


class AuthUnavailable(Exception):
    """The directory could not be asked: a temporary failure, not a wrong password."""


@dataclass(frozen=True)
class AuthOutcome:
    login: str | None  # the normalized address on success
    locked: bool = False


class Authenticator:
    def __init__(self, directory: RelayDirectory, gateway: Gateway, ttl: float,
                 throttle: FailureThrottle | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._directory = directory
        self._gateway = gateway
        self._ttl = ttl
        self._throttle = throttle or FailureThrottle()
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._cache: dict[bytes, float] = {}

    def _cache_key(self, login: str, password: bytes) -> bytes:
        return hmac.new(self._secret, login.encode("utf-8") + b"\0" + password, hashlib.sha256).digest()

    async def verify(self, login_raw: bytes, password: bytes, client_ip: str) -> AuthOutcome:
        try:
            login = normalize_address(login_raw.decode("utf-8", "strict"), "login")
        except (InvalidInput, UnicodeDecodeError):
            login = None
        account_key = login or login_raw.decode("utf-8", "replace")[:320].lower()
        now = self._clock()
        if self._throttle.locked(account_key, client_ip, now):
            return AuthOutcome(None, locked=True)
        if login is not None and password:
            key = self._cache_key(login, password)
            expires = self._cache.get(key)
            if expires is not None and expires > now:
                return AuthOutcome(login)
        delay = self._throttle.delay_for(account_key, client_ip, now)
        if delay:
            await asyncio.sleep(delay)
        ok = login is not None and bool(password) and await asyncio.to_thread(self._check, login, password)
        now = self._clock()
        if not ok:
            self._throttle.failed(account_key, client_ip, now)
            return AuthOutcome(None, locked=self._throttle.locked(account_key, client_ip, now))
        assert login is not None
        self._throttle.succeeded(account_key, client_ip)
        if len(self._cache) > 100_000:
            self._cache = {k: v for k, v in self._cache.items() if v > now}
        self._cache[self._cache_key(login, password)] = now + self._ttl
        return AuthOutcome(login)

    def _check(self, login: str, password: bytes) -> bool:
        try:
            entry = self._directory.address(login)
            if entry is None or entry.kind != "mailbox" or entry.address != login or not entry.active:
                return False
            domain = self._directory.domain(login.rpartition("@")[2])
            if domain is None or not domain.active:
                return False
            return self._gateway.check_password(self._directory.account_dn(login), password.decode("utf-8"))
        except UnicodeDecodeError:
            return False
        except MailGoThaiError as exc:
            raise AuthUnavailable(str(exc)) from exc
