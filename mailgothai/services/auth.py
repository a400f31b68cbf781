"""Logins to the admin web: administrators and mail users, verified by slapd (a bind
with the stored hash), throttled per account and per client address, with an optional
TOTP second factor for administrators.

Nobody is acting yet when these run, so they take the backends, not an Actor. What a
login returns (`AdminLogin`, `UserLogin`) is what the web then builds its Actor from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import delete, select

from mailgothai.core.addresses import normalize_address
from mailgothai.core.models import Admin, Status
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.backends import Backends
from mailgothai.services.passwords import upgrade_at_login
from mailgothai.store.web_state import LoginFailure

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ThrottleRules:
    account_failures: int = 5  # failures within `window` that lock the account
    ip_failures: int = 20  # failures within `window` that lock the client address
    window: int = 900  # seconds
    lockout: int = 900  # seconds


class LoginThrottle:
    """Failed logins kept in SQL, so a restart or a second web process sees them too."""

    def __init__(self, backends: Backends, rules: ThrottleRules, clock: Clock = utcnow) -> None:
        self._store = backends.store
        self.rules = rules
        self._clock = clock

    @staticmethod
    def keys(account: str, ip: str) -> tuple[str, str]:
        return f"account:{account.strip().lower()[:320]}", f"ip:{ip[:64]}"

    def locked_for(self, account: str, ip: str) -> int:
        """Seconds until a locked account or address may try again; 0 if not locked."""
        now = self._clock()
        with self._store.session() as session:
            rows = session.scalars(select(LoginFailure).where(LoginFailure.key.in_(self.keys(account, ip)))).all()
            waits = [(aware(r.locked_until) - now).total_seconds() for r in rows if r.locked_until is not None]
        return max([0, *(int(w) + 1 for w in waits if w > 0)])

    def failed(self, account: str, ip: str) -> None:
        now = self._clock()
        limits = dict(zip(self.keys(account, ip), (self.rules.account_failures, self.rules.ip_failures)))
        with self._store.session() as session:
            for key, limit in limits.items():
                row = session.get(LoginFailure, key)
                if row is None:
                    row = LoginFailure(key=key, failures=0, window_start=now, locked_until=None)
                    session.add(row)
                if now - aware(row.window_start) > timedelta(seconds=self.rules.window):
                    row.failures, row.window_start = 0, now
                row.failures += 1
                if row.failures >= limit:
                    row.locked_until = now + timedelta(seconds=self.rules.lockout)
                    row.failures, row.window_start = 0, now

    def succeeded(self, account: str) -> None:
        with self._store.session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key == self.keys(account, "")[0]))


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt came to. `locked_for` > 0: refused without checking."""

    ok: bool
    login: str = ""
    admin: Admin | None = None
    locked_for: int = 0


class Authenticator:
    def __init__(self, backends: Backends, throttle: LoginThrottle) -> None:
        self.b = backends
        self.throttle = throttle

    def _attempt(self, login: str, ip: str, check: Callable[[], LoginOutcome]) -> LoginOutcome:
        wait = self.throttle.locked_for(login, ip)
        if wait:
            return LoginOutcome(False, login, locked_for=wait)
        outcome = check()
        if outcome.ok:
            self.throttle.succeeded(login)
        else:
            self.throttle.failed(login, ip)
        return outcome

    def _upgrade(self, email: str, password: str) -> None:
        """After a successful login (upgrade_at_login). The login stands whatever happens
        here; a failed upgrade is tried at the next one. (Admins' hashes are always the
        project's own argon2id.)"""
        try:
            if upgrade_at_login(self.b, email, password):
                log.info("password of %s upgraded to argon2id at login", email)
        except MailGoThaiError as exc:
            log.warning("password of %s not upgraded at login: %s", email, exc)

    def admin(self, login: str, password: str, ip: str) -> LoginOutcome:
        """An administrator's password, checked by slapd; the admin must be active."""
        name = login.strip().lower()

        def check() -> LoginOutcome:
            if not name or not password or len(name) > 64:
                return LoginOutcome(False, name)
            admin = self.b.admins.find(name)
            if admin is None or admin.status is not Status.ACTIVE:
                return LoginOutcome(False, name)
            if not self.b.admins.check_password(admin.login, password):
                return LoginOutcome(False, name)
            return LoginOutcome(True, admin.login, admin=admin)

        return self._attempt(name, ip, check)

    def user(self, email: str, password: str, ip: str) -> LoginOutcome:
        """A mail user's password (the same stored hash IMAP checks); account and domain active."""
        try:
            address = normalize_address(email, "email")
        except InvalidInput:
            address = email.strip().lower()[:320]

        def check() -> LoginOutcome:
            account = self.b.accounts.find(address) if "@" in address else None
            if account is None or account.status is not Status.ACTIVE or not password:
                return LoginOutcome(False, address)
            domain = self.b.domains.find(account.domain)
            if domain is None or domain.status is not Status.ACTIVE:
                return LoginOutcome(False, address)
            if not self.b.accounts.check_password(account.email, password):
                return LoginOutcome(False, address)
            self._upgrade(account.email, password)
            return LoginOutcome(True, account.email)

        return self._attempt(address, ip, check)

    def current_admin(self, login: str) -> Admin | None:
        """The admin as the directory has it now (rights change, suspension apply at once)."""
        admin = self.b.admins.find(login)
        return admin if admin is not None and admin.status is Status.ACTIVE else None
