"""Logins to the admin web: administrators and mail users, verified by slapd (a bind
with the stored hash), counted in the login budget every login shares (web, SMTP AUTH,
IMAP: services/login_budget.py), with an optional TOTP second factor for administrators
and mail users.

A success clears this source's failures (its pair) of what it proved, and nothing else: each
credential is counted under a name of its own. The second step's codes, an admin's or a mail
user's, under `code_name` (the right password before them clears none of them, only the right
code does); the main password of a mail user with a second factor under `web_password_name`
(it opens only the web, and IMAP and SMTP AUTH take only the app passwords then, so their
successes, which clear the address's pair, prove nothing the web's failures guess). Any
other login's password under its own name, which IMAP and SMTP AUTH share.

Nobody is acting yet when these run, so they take the backends, not an Actor. What a
login returns (`AdminLogin`, `UserLogin`) is what the web then builds its Actor from.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mailgothai.core.addresses import normalize_address
from mailgothai.core.models import Account, Admin, Status
from mailgothai.core.passwords import verify_for_nobody
from mailgothai.errors import InvalidInput, MailGoThaiError, NotFound
from mailgothai.services.backends import Backends
from mailgothai.services.last_login import LoginRecorder
from mailgothai.services.login_budget import LoginBudget
from mailgothai.services.passwords import upgrade_at_login

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt came to. `locked_for` > 0: refused without checking (seconds
    until this source may try this account again)."""

    ok: bool
    login: str = ""
    admin: Admin | None = None
    locked_for: int = 0
    mailbox_id: str = ""  # a mail user's: whose session this login opens (the account, not the address)
    needs_code: bool = False  # the right password of an account with a second factor: the code next


def _budget_name(login: str) -> str:
    """What a login that is no address is counted under in the login budget: as typed
    (its failures count as any other's), without the characters SQL text cannot hold
    (PostgreSQL refuses a NUL) or a person cannot see."""
    return "".join(c if c.isprintable() else "?" for c in login.strip().lower()[:320])


def web_password_name(email: str) -> str:
    """What the main password of a mail user with a second factor is counted under in the
    login budget: "web:" and the address (no address is one), apart from the address's own
    tallies, which IMAP and SMTP AUTH (app passwords only, for this account) fill and clear."""
    return f"web:{email}"


def code_name(login: str) -> str:
    """What the second step's codes of an admin or a mail user are counted under: apart from
    the password's, so the right password never clears a wrong code."""
    return f"code:{login}"


class Authenticator:
    def __init__(self, backends: Backends, budget: LoginBudget,
                 sleep: Callable[[float], None] = time.sleep, recorder: LoginRecorder | None = None) -> None:
        self.b = backends
        self.budget = budget
        self._sleep = sleep
        self.recorder = recorder  # a mail user's web login is the account's last login (issue 17)

    def locked_for(self, login: str, ip: str) -> int:
        """Seconds this source must wait before trying `login` again (0: it may now);
        a short wait the budget asks of every source is served here, by sleeping."""
        verdict = self.budget.check(login, ip)
        if verdict.refused:
            return math.ceil(verdict.refuse_for)
        if verdict.delay:
            self._sleep(verdict.delay)
        return 0

    def _attempt(self, login: str, ip: str, check: Callable[[], LoginOutcome]) -> LoginOutcome:
        wait = self.locked_for(login, ip)
        if wait:
            return LoginOutcome(False, login, locked_for=wait)
        outcome = check()
        if outcome.ok:
            self.budget.succeeded(login, ip)
        else:
            self.budget.failed(login, ip)
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
                verify_for_nobody(password, self.b.argon2)  # as long as a wrong password
                return LoginOutcome(False, name)
            if not self.b.admins.check_password(admin.login, password):
                return LoginOutcome(False, name)
            return LoginOutcome(True, admin.login, admin=admin, needs_code=self._admin_totp(admin.login))

        return self._attempt(name, ip, check)

    def _admin_totp(self, login: str) -> bool:
        from mailgothai.store.totp import TotpRecords  # the admins' secrets (services/totp.py)

        record = TotpRecords(self.b.store).get(login)
        return bool(record and record.enabled)

    def admin_code(self, login: str, ip: str, verify: Callable[[], bool]) -> LoginOutcome:
        """An admin's second step, after the right password: `verify` checks the code. Counted
        as a password is, under `code_name`: only the right code clears the wrong ones."""
        return self._attempt(code_name(login), ip, lambda: LoginOutcome(verify(), login))

    def user_code(self, email: str, ip: str, verify: Callable[[], bool]) -> LoginOutcome:
        """A mail user's second step (a code from the app or a recovery code), as admin_code."""
        return self._attempt(code_name(email), ip, lambda: LoginOutcome(verify(), email))

    def user(self, email: str, password: str, ip: str) -> LoginOutcome:
        """A mail user's password (the same stored hash IMAP checks); account and domain active."""
        try:
            address = normalize_address(email, "email")
        except InvalidInput:  # no address: a wrong login, with no directory call (`x@` broke its DN)
            address, valid = _budget_name(email), False
        else:  # local@ALIAS-DOMAIN logs in as local@ITS-DOMAIN, as over IMAP and SMTP (issue 17)
            valid = True
            local, _, name = address.rpartition("@")
            alias = self.b.domains.find_alias(name)
            if alias is not None:
                address = f"{local}@{alias.target}"
        second = valid and self._user_second_factor(address)

        def check() -> LoginOutcome:
            account = self._active_account(address) if valid and password else None
            if account is None or not account.mailbox_id:
                if password:
                    verify_for_nobody(password, self.b.argon2)  # as long as a wrong password
                return LoginOutcome(False, address)
            from mailgothai.services.second_factor import check_main_password

            if not check_main_password(self.b, account.email, password):  # never an app password
                return LoginOutcome(False, address)
            self._upgrade(account.email, password)
            return LoginOutcome(True, account.email, mailbox_id=account.mailbox_id, needs_code=second)

        outcome = self._attempt(web_password_name(address) if second else address, ip, check)
        if outcome.ok and self.recorder is not None:
            self.recorder.record(outcome.login, "web", ip)  # in memory; written in batches
        return outcome

    def _user_second_factor(self, address: str) -> bool:
        """The account at `address` has its second factor on (the mark on its entry)."""
        from mailgothai.services.second_factor import has_second_factor  # it imports this module

        try:
            return has_second_factor(self.b, address)
        except NotFound:
            return False

    def _active_account(self, address: str) -> Account | None:
        """The account at `address` if it and its domain are active (what a login needs)."""
        account = self.b.accounts.find(address)
        if account is None or account.status is not Status.ACTIVE:
            return None
        domain = self.b.domains.find(account.domain)
        return account if domain is not None and domain.status is Status.ACTIVE else None

    def session_account(self, login: str, mailbox_id: str) -> Account | None:
        """The account a mail user's session was opened for (its mailbox id), if it still
        holds the address and it and its domain are active: an address that changed hands
        never carries a session to its new holder, and a suspended agency's users are out."""
        account = self._active_account(login) if mailbox_id else None
        return account if account is not None and account.mailbox_id == mailbox_id else None

    def current_admin(self, login: str) -> Admin | None:
        """The admin as the directory has it now (rights change, suspension apply at once)."""
        admin = self.b.admins.find(login)
        return admin if admin is not None and admin.status is Status.ACTIVE else None
