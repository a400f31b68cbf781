"""SMTP AUTH against the directory, with a short-lived cache and the login budget
every login shares (services/login_budget.py: web, SMTP AUTH and IMAP count together).

The password is checked by slapd (a bind as the account's DN; slapd verifies the
argon2id hash), after the relay has read that the account and its domain are active.
A success is remembered for `ttl` seconds under HMAC-SHA256(process secret, login,
password): the password itself is never kept, and a wrong password never matches.

A remembered success holds only while the account's entry is the one it was checked
against: it keeps the entry's `entryCSN`, and every later login compares it with the
entry as the relay's directory lookup reads it now (and checks that the account and
its domain are still active). A password change, a suspension — any modification of
the entry, made on any provider — changes the CSN, so the old password stops working
as soon as the lookup has read the entry again: within `relay_lookup_cache_ttl`
seconds (plus replication delay), on every relay alike, without any signal.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address
from mailgothai.core.app_passwords import fingerprint, success_clears_login_failures
from mailgothai.core.login_budget import Verdict
from mailgothai.directory.app_passwords import credentials_at
from mailgothai.directory.gateway import Gateway
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.relay.lookup import RelayDirectory, cached_or_thread
from mailgothai.services.app_use import AppUseRecorder
from mailgothai.services.last_login import LoginRecorder
from mailgothai.services.login_budget import LoginBudget

log = logging.getLogger("mailgothai.relay")


MUST_CHANGE_FIRST = "\0must-change"  # _check's answer for the right password of a marked account


class AuthUnavailable(Exception):
    """The directory could not be asked: a temporary failure, not a wrong password."""


@dataclass(frozen=True)
class AuthOutcome:
    login: str | None  # the normalized address on success
    locked: bool = False  # refused without checking: too many failures of this account from this source
    must_change: bool = False  # the right password, but it must be changed first (issue 20)
    # on success: the account entry's entryCSN ("" if unreadable) the credential was proved
    # against, read before slapd checked it: what the SMTP session is held to (relay/handler.py)
    version: str | None = None


class Authenticator:
    def __init__(self, directory: RelayDirectory, gateway: Gateway, ttl: float, budget: LoginBudget,
                 clock: Callable[[], float] = time.monotonic, hasher: Callable[[str], str] | None = None,
                 recorder: LoginRecorder | None = None, app_uses: AppUseRecorder | None = None,
                 nonce: str = "", for_nobody: Callable[[str], None] | None = None) -> None:
        self._directory = directory
        # a login nobody (active) holds spends one verification all the same: its answer
        # takes as long as a wrong password's, so timing tells no one which accounts exist
        self._for_nobody = for_nobody
        self.recorder = recorder  # each accepted AUTH is the account's last SMTP login (issue 17)
        # and, if its password is an app password, that one's last use (issue 20: by its fingerprint)
        self.app_uses = app_uses
        self._nonce = nonce
        self._gateway = gateway
        self._hasher = hasher  # upgrades a hash from an older system at login; None: never
        self._ttl = ttl
        self._budget = budget
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, str]] = {}  # key -> (expires, entryCSN checked against)
        self._warned = False

    def _cache_key(self, login: str, password: bytes) -> bytes:
        return hmac.new(self._secret, login.encode("utf-8") + b"\0" + password, hashlib.sha256).digest()

    async def verify(self, login_raw: bytes, password: bytes, client_ip: str) -> AuthOutcome:
        try:
            login = normalize_address(login_raw.decode("utf-8", "strict"), "login")
        except (InvalidInput, UnicodeDecodeError):
            login = None
        if login is not None:  # local@ALIAS-DOMAIN logs in as local@ITS-DOMAIN (issue 17)
            try:
                login = await cached_or_thread(self._directory.canonical, login)
            except MailGoThaiError as exc:
                raise AuthUnavailable(str(exc)) from exc
        account_key = login or login_raw.decode("utf-8", "replace")[:320].lower()
        try:
            verdict = await asyncio.to_thread(self._budget.check, account_key, client_ip)
        except MailGoThaiError as exc:
            raise AuthUnavailable(str(exc)) from exc
        if verdict.refused:
            return AuthOutcome(None, locked=True)
        now = self._clock()
        if login is not None and password:
            key = self._cache_key(login, password)
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                if await asyncio.to_thread(self._standing, login) == hit[1]:
                    await self._report_success(account_key, client_ip, verdict, login, password)
                    self._record(login, client_ip, password)
                    return AuthOutcome(login, version=hit[1])
                self._cache.pop(key, None)  # the entry changed (or is gone, or suspended): check again
        if verdict.delay:
            await asyncio.sleep(verdict.delay)
        version = None
        if login is not None and password:
            version = await asyncio.to_thread(self._check, login, password)
        now = self._clock()
        if version == MUST_CHANGE_FIRST:  # never cached: the change rewrites the entry anyway
            assert login is not None
            await self._report_success(account_key, client_ip, verdict, login, password)
            return AuthOutcome(None, must_change=True)
        if version is None:
            try:
                await asyncio.to_thread(self._budget.failed, account_key, client_ip)
            except MailGoThaiError as exc:
                log.warning("AUTH failure from %s not counted: %s", client_ip, exc)
            return AuthOutcome(None)
        assert login is not None
        await self._report_success(account_key, client_ip, verdict, login, password)
        self._record(login, client_ip, password)
        if not version and not self._warned:
            self._warned = True
            log.warning("AUTH cache off: entryCSN is not readable as the mail server (slapd ACL older than "
                        "this relay); every login binds")
        if version:  # an entry without a readable entryCSN is never cached
            if len(self._cache) > 100_000:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[self._cache_key(login, password)] = (now + self._ttl, version)
        return AuthOutcome(login, version=version)

    def _record(self, login: str, client_ip: str, password: bytes) -> None:
        """In memory only: the recorders write in batches (services/last_login.py, app_use.py)."""
        if self.recorder is not None:
            self.recorder.record(login, "smtp", client_ip)
        if self.app_uses is not None:
            self.app_uses.record(login, fingerprint(self._nonce, login, password.decode("utf-8", "replace")),
                                 "smtp", client_ip)

    async def _report_success(self, account: str, client_ip: str, before: Verdict, login: str,
                              password: bytes) -> None:
        """Clears this source's failures of the account if the password proves what they
        guessed (an app password does not, while they may be guesses at the main password):
        nothing to do (no SQL, no directory read, no thread) when the check before the
        password found none (the common case)."""
        if not before.pair_counted:
            return
        try:
            await asyncio.to_thread(self._budget.succeeded, account, client_ip,
                                    lambda: self._clears_login_failures(login, password))
        except MailGoThaiError as exc:
            log.warning("AUTH success from %s not recorded: %s", client_ip, exc)

    def _clears_login_failures(self, login: str, password: bytes) -> bool:
        """Blocking (one directory read, only after failures): whether this success clears
        the failures under the login (core/app_passwords.success_clears_login_failures), by
        the entry's app passwords, its second factor and the password's fingerprint.
        Unreadable: it clears nothing."""
        try:
            apps, second_factor = credentials_at(self._gateway, self._directory.account_dn(login))
        except MailGoThaiError as exc:
            log.warning("AUTH success of %s clears no failures: %s", login, exc)
            return False
        found = fingerprint(self._nonce, login, password.decode("utf-8", "replace"))
        return success_clears_login_failures(apps, second_factor, found)

    def _standing(self, login: str) -> str | None:
        """Blocking (directory, through the lookup cache): the account entry's entryCSN
        ("" if unreadable) while it may log in — a mailbox, active, in an active domain —
        else None."""
        try:
            entry = self._directory.address(login)
            if entry is None or entry.kind != "mailbox" or entry.address != login or not entry.active:
                return None
            domain = self._directory.domain(login.rpartition("@")[2])
            if domain is None or not domain.active:
                return None
            return entry.version
        except MailGoThaiError as exc:
            raise AuthUnavailable(str(exc)) from exc

    def _check(self, login: str, password: bytes) -> str | None:
        """Blocking: the entry's entryCSN if the account may log in and the password is
        right (slapd binds as the account), else None."""
        version = self._standing(login)
        if version is None:
            if self._for_nobody is not None:
                self._for_nobody(password.decode("utf-8", "replace"))
            return None
        dn = self._directory.account_dn(login)
        try:
            plain = password.decode("utf-8")
            ok = self._gateway.check_password(dn, plain)
        except UnicodeDecodeError:
            return None
        except MailGoThaiError as exc:
            raise AuthUnavailable(str(exc)) from exc
        if not ok:
            return None
        if self._must_change(login):
            return MUST_CHANGE_FIRST
        if self._hasher is not None and self._upgrade(login, dn, plain, self._hasher):
            # The upgrade changed the entry: prove the password again against it as it is
            # now (read first, then bind, as above), so the session is held to the entry it
            # made, not ended by it; if that fails, the version from before holds (a change
            # in between then ends the session at its next MAIL, as any change does).
            self._directory.forget_address(login)
            renewed = self._standing(login)
            try:
                if renewed is not None and self._gateway.check_password(dn, plain):
                    return renewed
            except MailGoThaiError as exc:
                log.warning("%s: the entry after the upgrade not checked: %s", login, exc)
        return version

    def _must_change(self, login: str) -> bool:
        """The entry the lookup read (the same read as _standing's) is marked: change at
        next login, or expired (issue 20)."""
        try:
            entry = self._directory.address(login)
        except MailGoThaiError as exc:
            raise AuthUnavailable(str(exc)) from exc
        return entry is not None and entry.must_change

    def _upgrade(self, login: str, dn: str, plain: str, hasher: Callable[[str], str]) -> bool:
        """A hash from an older system (marked in the entry the lookup read) becomes
        argon2id (DESIGN); True if it did. The login stands whatever happens here; a failed
        upgrade is tried at the next login that binds."""
        entry = self._directory.address(login)
        if entry is None or not entry.legacy_password:
            return False
        try:
            if self._gateway.replace_own_legacy_hash(dn, plain, hasher(plain)):
                log.info("password of %s upgraded to argon2id at SMTP AUTH", login)
                return True
        except MailGoThaiError as exc:
            log.warning("password of %s not upgraded at SMTP AUTH: %s", login, exc)
        return False
