"""Self-service password reset (issue 20): a mail user's recovery address outside the
service, and a reset link sent to it.

**Recovery address** (`RecoveryService`, the logged-in user): set with the current
password (a stolen session alone cannot point the account's recovery somewhere else),
never an address of a domain hosted here (it must reach the user when this service does
not: a forgotten password, a suspended neighbour account taking the account over), and
used only once its owner opened the confirmation link sent to it. Kept in the SQL store
by mailbox id (store/password_resets.py): only the web's reset reads it.

**Reset** (`PasswordResetService`, anyone): `request` does the same work for every
address — it checks the address's shape and counts the request for the address typed and
for the client (core/password_reset.admit) — and the page answers the same; the lookup of
the account and the mail (`send_reset`) run apart from the request (the web hands them to
threads of their own), so whether the address exists changes neither the answer nor its
time. A mail goes only to an active account's confirmed recovery address. `reset` takes
the link once (single use, expiry `password_reset_lifetime`), checks the new password
against the domain's policy, writes it (valid at once for IMAP, SMTP and the web: Dovecot's cached login is flushed, the
relay's cache follows the entry's CSN) and voids the account's other reset links. The
new password is written as the user's own change is (`set_password_hash` without
must_change), which also ends "change at next login" (issue 20's other part).

Mail leaves through the relay as the account's own system mail (a `Mailer`; the web's is
relay_submission.py): DKIM-signed for its domain, counted in its hourly limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from mailgothai.core import password_reset as pr
from mailgothai.core.addresses import normalize_address, split_address
from mailgothai.core.models import Account, Status
from mailgothai.core.passwords import hash_password
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.backends import Backends
from mailgothai.services.domain_routing import login_names
from mailgothai.services.password_policy import require_strong
from mailgothai.services.second_factor import check_current_password
from mailgothai.store.password_resets import PasswordResets, Recovery

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
RESET_PATH = "/mail/reset"
CONFIRM_PATH = "/mail/recovery/confirm"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Mailer(Protocol):
    def send(self, account: str, recipients: list[str], message: bytes) -> None:
        """Hands `message` to the relay as `account`'s system mail, envelope sender <>."""


class LinkRefused(MailGoThaiError):
    """The link is unknown, used, expired, or its account is gone or suspended."""


@dataclass(frozen=True)
class ResetConfig:
    public_url: str  # the web's address as users reach it, e.g. https://mail.example.go.th
    lifetime: int  # seconds a reset link works
    rules: pr.ThrottleRules


class _Base:
    def __init__(self, backends: Backends, config: ResetConfig, mailer: Mailer, clock: Clock = utcnow) -> None:
        self.b = backends
        self.config = config
        self.mailer = mailer
        self.clock = clock
        self.resets = PasswordResets(backends.store)

    def _link(self, path: str, token: str) -> str:
        if not self.config.public_url:
            raise MailGoThaiError("web_public_url is not set: no link can be sent")
        return pr.link(self.config.public_url, path, token)


class RecoveryService(_Base):
    """The logged-in mail user's own recovery address."""

    def __init__(self, backends: Backends, email: str, config: ResetConfig, mailer: Mailer,
                 clock: Clock = utcnow) -> None:
        super().__init__(backends, config, mailer, clock)
        self.email = email

    def _account(self) -> Account:
        account = self.b.accounts.get(self.email)
        if not account.mailbox_id:
            raise MailGoThaiError(f"{self.email} has no mailbox id")
        return account

    def show(self) -> Recovery | None:
        return self.resets.recovery(self._account().mailbox_id)

    def set(self, address: str, current_password: str) -> str:
        """Stores `address` unconfirmed and mails it the confirmation link; the address."""
        address = normalize_address(address, "recovery_address")
        _, domain = split_address(address)
        if self.b.domains.find(domain) is not None or self.b.domains.find_alias(domain) is not None:
            raise InvalidInput("recovery_address", Why.RECOVERY_ADDRESS_HOSTED(domain=domain))
        if not check_current_password(self.b, self.email, current_password):  # never an app password
            raise InvalidInput("current_password", Why.NOT_CURRENT_PASSWORD())
        account = self._account()
        now = self.clock()
        token = pr.new_token()
        url = self._link(CONFIRM_PATH, token)  # before anything is stored
        # links sent to the address before (reset or confirmation) stop working: the old
        # address is no longer the account's way back in
        self.resets.void(account.mailbox_id, pr.RESET, now)
        self.resets.void(account.mailbox_id, pr.CONFIRM, now)
        self.resets.set_recovery(account.mailbox_id, address, now)
        self.resets.add_token(pr.token_hash(token), pr.CONFIRM, account.mailbox_id, address, now, pr.CONFIRM_LIFETIME)
        self.b.audit.record(actor=self.email, origin="web-self", action="account.recovery_address.set",
                            object_type="account", object_id=self.email, domain=account.domain,
                            after={"recovery_address": address})
        message = pr.confirm_mail(account=account.email, to=address, url=url, now=now)
        self.mailer.send(account.email, [address], message)
        return address

    def remove(self) -> bool:
        account = self._account()
        removed = self.resets.remove_recovery(account.mailbox_id)
        if removed:
            self.b.audit.record(actor=self.email, origin="web-self", action="account.recovery_address.remove",
                                object_type="account", object_id=self.email, domain=account.domain)
        return removed


def confirm_recovery(backends: Backends, token: str, mailer: Mailer, clock: Clock = utcnow) -> str:
    """The owner of a recovery address opened its link: the address is confirmed, and the
    account itself is told (whoever reads that address can set its password from now on);
    the account's address. LinkRefused if the link does not work (any more)."""
    resets = PasswordResets(backends.store)
    now = clock()
    used = resets.use(pr.token_hash(token), pr.CONFIRM, now) if pr.plausible_token(token) else None
    account = backends.accounts.find_by_id(used.mailbox_id) if used else None
    if used is None or account is None or not resets.confirm_recovery(used.mailbox_id, used.address, now):
        raise LinkRefused("this link does not work (any more)")
    backends.audit.record(actor=account.email, origin="web-self", action="account.recovery_address.confirm",
                          object_type="account", object_id=account.email, domain=account.domain,
                          after={"recovery_address": used.address})
    notify(mailer, account.email, pr.recovery_notice_mail(account=account.email, recovery=used.address, now=now))
    return account.email


def notify(mailer: Mailer, account: str, message: bytes) -> None:
    """A notice to the account's own mailbox. The change it reports stands either way: a
    relay that cannot take it now is logged, not shown to the person as a failure."""
    try:
        mailer.send(account, [account], message)
    except MailGoThaiError as exc:
        log.warning("notice to %s not sent: %s", account, exc)


@dataclass(frozen=True)
class Request:
    """What `request` decided, before the answer: `refused` (the client asked too often:
    429); else the same page for everyone, and `send_reset(address, quiet)` afterwards."""

    refused: bool
    address: str
    quiet: bool  # the address was asked for too often: no mail this time


class PasswordResetService(_Base):
    """The forgotten-password pages (no login)."""

    def request(self, typed: str, ip: str) -> Request:
        address = normalize_address(typed, "email")  # its shape only: the same for every address
        now, by_address, by_source = self.clock(), pr.address_key(address), pr.source_key(ip)
        counts = self.resets.count([by_address, by_source], now, pr.THROTTLE_WINDOW)
        admission = pr.admit(self.config.rules, counts[by_address], counts[by_source])
        # a refused client's requests do not count against the addresses it names
        self.resets.add_requests([by_source] if admission.source_over else [by_address, by_source], now)
        return Request(admission.source_over, address, admission.address_over)

    def send_reset(self, address: str, quiet: bool = False) -> bool:
        """After the answer: the reset mail, if the address is an active account with a
        confirmed recovery address (and not asked for too often). True if one was sent.
        Never raises: nobody is waiting for it."""
        try:
            return self._send_reset(address, quiet)
        except Exception:  # noqa: BLE001 - logged; the user asks again
            log.exception("password reset mail for %s failed", address)
            return False

    def _send_reset(self, address: str, quiet: bool) -> bool:
        # links expired a day ago are of no more use, not even to say "expired"
        self.resets.forget_before(self.clock() - timedelta(seconds=pr.CONFIRM_LIFETIME))
        account = self.b.accounts.find(address)
        if account is None or account.status is not Status.ACTIVE or not account.mailbox_id:
            return False
        domain = self.b.domains.find(account.domain)
        if domain is None or domain.status is not Status.ACTIVE:
            return False
        recovery = self.resets.recovery(account.mailbox_id)
        if recovery is None or recovery.confirmed_at is None:
            return False
        if quiet:
            log.info("password reset for %s asked too often: no mail", address)
            return False
        now = self.clock()
        token = pr.new_token()
        self.resets.add_token(pr.token_hash(token), pr.RESET, account.mailbox_id, recovery.address, now,
                              self.config.lifetime)
        message = pr.reset_mail(account=account.email, to=recovery.address, url=self._link(RESET_PATH, token),
                                lifetime=self.config.lifetime, now=now)
        self.mailer.send(account.email, [recovery.address], message)
        self.b.audit.record(actor=account.email, origin="web-reset", action="account.password_reset.sent",
                            object_type="account", object_id=account.email, domain=account.domain,
                            after={"to": recovery.address})
        return True

    def _account_of(self, mailbox_id: str) -> Account | None:
        account = self.b.accounts.find_by_id(mailbox_id)
        if account is None or account.status is not Status.ACTIVE:
            return None
        return account

    def check_link(self, token: str) -> Account:
        """The account a reset link is for, if it still works (nothing is changed)."""
        found = self.resets.valid(pr.token_hash(token), pr.RESET, self.clock()) if pr.plausible_token(token) else None
        account = self._account_of(found.mailbox_id) if found else None
        if found is not None and account is not None:
            recovery = self.resets.recovery(found.mailbox_id)
            if recovery is None or recovery.confirmed_at is None or recovery.address != found.address:
                account = None  # sent to an address that is no longer the account's (replaced, removed)
        if account is None:
            raise LinkRefused("this link does not work (any more)")
        return account

    def reset(self, token: str, new: str, repeat: str) -> Account:
        """The new password through the link; the account. LinkRefused if the link does not
        work; InvalidInput for a password the domain's policy refuses (the link still works)."""
        account = self.check_link(token)
        if new != repeat:
            raise InvalidInput("new_password_repeat", Why.PASSWORDS_DIFFER())
        require_strong(self.b, new, account, "new_password")
        now = self.clock()
        if self.resets.use(pr.token_hash(token), pr.RESET, now) is None:
            raise LinkRefused("this link does not work (any more)")
        # As an admin's reset: the app passwords go with the old password (whoever took the
        # account may have made some), in the same write.
        dropped = self.b.accounts.set_password_hash(account.email, hash_password(new, self.b.argon2),
                                                    drop_app_passwords=True)
        # Right after the write, before any bookkeeping that could fail: its IMAP, ManageSieve
        # and SMTP sessions end (an intruder's).
        self.b.doveadm.flush_auth_cache(login_names(self.b, [account.email]))
        self.b.end_sessions([account.email])
        after: dict[str, object] = {"by": "reset link"}
        if dropped:
            after["app_logins_revoked"] = [app.name for app in dropped]
        try:
            if self.b.account_secrets is not None:  # whoever was logged in with the old one is out
                self.b.account_secrets.end_web_sessions(account.email)
            self.resets.void(account.mailbox_id, pr.RESET, now)
            if self.b.account_secrets is not None:
                self.b.account_secrets.forget_app_uses(account.email, [app.id for app in dropped])
        finally:  # the new password is written: recorded whatever failed after it
            self.b.audit.record(actor=account.email, origin="web-reset", action="account.password",
                                object_type="account", object_id=account.email, domain=account.domain,
                                after=after)
        notify(self.mailer, account.email, pr.reset_notice_mail(account=account.email, now=now))
        return account

