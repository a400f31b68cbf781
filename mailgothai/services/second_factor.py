"""A mail user's second factor for the web and app passwords for mail clients (issue 20).

- App passwords (core/app_passwords.py, directory/app_passwords.py): made by the user in
  the self-service, shown once, stored as argon2id, listed with their last use, revoked by
  the user or by an admin of the domain. They open IMAP and SMTP AUTH only: the web's check
  of a mail user's password (check_main_password) refuses them.
- TOTP (services/totp.py, as for admins; the secrets in `user_totp`) with ten recovery
  codes, each usable once (stored as SHA-256). Turning it on asks for the current password:
  its hash is made anew and moved out of userPassword (the directory then refuses it to
  every bind: IMAP and SMTP AUTH take only app passwords); turning it off puts it back.

Every change that may leave a login cached flushes Dovecot's auth cache for the account
(and kicks its IMAP sessions on a revocation); the relay's AUTH cache keys on the entry's
entryCSN, which every one of these changes moves: this machine's relay is told to read the
entry again now (SIGUSR1), relays elsewhere within relay_lookup_cache_ttl.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailgothai.core import app_passwords as core
from mailgothai.core.app_passwords import AppPassword
from mailgothai.core.passwords import UnsupportedScheme, hash_password, verify_password
from mailgothai.core.reasons import Why
from mailgothai.directory.app_passwords import AppPasswordDirectory
from mailgothai.errors import InvalidInput, LimitExceeded, MailGoThaiError, NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.auth import Clock, utcnow, web_password_name
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service
from mailgothai.services.domain_routing import login_names
from mailgothai.services.login_budget import Exhausted, shared_budget
from mailgothai.services.totp import TotpService
from mailgothai.store.second_factor import AppPasswordUses, RecoveryCodes, UserTotp
from mailgothai.store.totp import TotpRecords


def nonce_of(backends: Backends) -> str:
    return core.policy_nonce(str(backends.settings.auth_policy_secret))


@dataclass(frozen=True)
class AppPasswordView:
    app: AppPassword
    last_used: datetime | None = None
    last_protocol: str = ""
    last_remote: str = ""


def check_main_password(backends: Backends, email: str, password: str) -> bool:
    """A mail user's own password for the web: the main one, never an app password.
    With the second factor on, the main password's hash is read (as the application) and
    verified here; otherwise slapd's bind verifies it and any app password the bind took
    is refused (an argon2 verification per app password the account has)."""
    directory = AppPasswordDirectory(backends.gateway.as_application(), backends.layout)
    return _main_password_is(backends, directory, directory.web_password(email), email, password)


def _main_password_is(backends: Backends, directory: AppPasswordDirectory, web_hash: str | None, email: str,
                      password: str) -> bool:
    """check_main_password, the main password's hash for the web (None: the factor is off) read."""
    if web_hash is not None:
        try:
            return verify_password(password, web_hash)
        except UnsupportedScheme:  # a {CRYPT} hash an admin stored: not checkable here
            return False
    if not backends.accounts.check_password(email, password):
        return False
    return not any(_verifies(password, app.hash) for app in directory.list(email))


SELF_SERVICE_SOURCE = "self-service"  # the budget's source for passwords asked again of a logged-in user


def check_current_password(backends: Backends, email: str, password: str) -> bool:
    """The logged-in user's own password, asked again before a change that could let
    someone keep a way in (an app password, a forward, recovery codes, a new password or
    recovery address, the second factor off). Counted in the account's login budget as a
    login is (services/login_budget.py: the process's one budget), under the name the web's
    login counts this password under (the address; `web:` and the address while the second
    factor is on) and a source of its own: after a few wrong ones the check is refused for a
    while, so a stolen session cannot try passwords faster than the login form would let it."""
    budget = shared_budget(backends.store, backends.settings)
    directory = AppPasswordDirectory(backends.gateway.as_application(), backends.layout)
    web_hash = directory.web_password(email)
    name = email if web_hash is None else web_password_name(email)
    source = f"{SELF_SERVICE_SOURCE}:{email}"
    try:
        return budget.counted(name, source, lambda: _main_password_is(backends, directory, web_hash, email, password))
    except Exhausted as refused:
        raise InvalidInput("current_password", Why.CURRENT_PASSWORD_REFUSED(minutes=refused.minutes)) from None


def _verifies(password: str, stored: str) -> bool:
    try:
        return verify_password(password, stored)
    except UnsupportedScheme:
        return False


def user_totp(backends: Backends, clock: Clock = utcnow) -> TotpService:
    return TotpService(backends.store, str(backends.settings.web_secret_key), clock,
                       records=TotpRecords(backends.store, UserTotp))


class UserSecurity:
    """What the logged-in mail user may do about its own logins (the only account touched)."""

    def __init__(self, backends: Backends, email: str, clock: Clock = utcnow) -> None:
        self.b = backends
        self.email = email
        self._clock = clock
        self.directory = AppPasswordDirectory(backends.gateway, backends.layout)
        self.totp = user_totp(backends, clock)
        self.codes = RecoveryCodes(backends.store)
        self.uses = AppPasswordUses(backends.store)

    def _audit(self, action: str, object_id: str) -> None:
        self.b.audit.record(actor=self.email, origin="web-self", action=action, object_type="account",
                            object_id=object_id, domain=self.email.rpartition("@")[2])

    def _flush(self) -> None:
        self.b.doveadm.flush_auth_cache(login_names(self.b, [self.email]))
        self.b.tell_relay()  # this machine's relay reads the entry again now; others within their lookup TTL

    # ---- app passwords -----------------------------------------------------------------

    def app_passwords(self) -> list[AppPasswordView]:
        return views(self.b, self.email, self.directory.list(self.email))

    def create_app_password(self, name: str, current_password: str) -> tuple[AppPassword, str]:
        """A new app password: (its record, the password itself, to show once). Asks for the
        current (main) password: a stolen web session alone cannot mint a lasting way into
        the mailbox that outlives a password change."""
        name = core.check_name(name)
        if not check_current_password(self.b, self.email, current_password):
            raise InvalidInput("current_password", Why.NOT_CURRENT_PASSWORD())
        if len(self.directory.list(self.email)) >= core.MAX_APP_PASSWORDS:
            raise LimitExceeded("name", Why.TOO_MANY_APP_PASSWORDS(max=core.MAX_APP_PASSWORDS))
        secret = core.new_secret()
        app = AppPassword(core.new_id(), name, self._clock().replace(microsecond=0),
                          core.fingerprint(nonce_of(self.b), self.email, secret), hash_password(secret, self.b.argon2))
        self.directory.add(self.email, app)
        self._audit("account.app_password_add", f"{self.email} {app.id} {app.name}")
        return app, secret

    def revoke_app_password(self, app_id: str) -> AppPassword:
        return revoke(self.b, self.email, app_id, self.email, "web-self")

    # ---- second factor -------------------------------------------------------------------

    def totp_enabled(self) -> bool:
        return has_second_factor(self.b, self.email)

    def start_totp(self) -> str:
        """The otpauth:// URI of a new (pending) secret, or the pending one's if this
        account made it. Never another mailbox's: the secrets are kept by address, and a
        deleted account's go with it (LifecycleService._retire); one left from before that
        (a secret on for an entry that is not marked, a pending one older than the latest
        deletion of this address) is dropped first."""
        self._drop_stale()
        return self.totp.pending_uri(self.email) or self.totp.begin(self.email)

    def _drop_stale(self) -> None:
        record = TotpRecords(self.b.store, UserTotp).get(self.email)
        if record is None:
            return
        if record.enabled:
            stale = not self.totp_enabled()
        else:
            deletions = self.b.retained.by_address(self.email)
            stale = bool(deletions) and (record.created_at is None
                                         or record.created_at <= max(r.deleted_at for r in deletions))
        if stale:
            self.totp.disable(self.email)
            self.codes.remove(self.email)

    def enable_totp(self, current_password: str, code: str) -> list[str]:
        """Turn the pending secret on (its code and the current password checked); the main
        password then opens the web only. Returns the recovery codes, to show once."""
        if not check_current_password(self.b, self.email, current_password):
            raise InvalidInput("current_password", Why.NOT_CURRENT_PASSWORD())
        self._drop_stale()  # a former holder's pending secret is never turned on for this account
        self.totp.confirm(self.email, code)
        try:
            self.directory.move_main_password(self.email, hash_password(current_password, self.b.argon2),
                                              web_only=True)
        except MailGoThaiError:
            self.totp.disable(self.email)
            raise
        codes = self._fresh_codes()
        self._audit("account.totp_on", self.email)
        self._flush()
        # The main password no longer opens IMAP, ManageSieve or SMTP: the sessions it opened
        # (perhaps an intruder's, the reason to turn this on) end too; the app passwords log in anew.
        self.b.end_sessions([self.email])
        return codes

    def disable_totp(self, current_password: str) -> None:
        if not check_current_password(self.b, self.email, current_password):
            raise InvalidInput("current_password", Why.NOT_CURRENT_PASSWORD())
        turn_off(self.b, self.email)
        self._audit("account.totp_off", self.email)
        self._flush()

    def new_recovery_codes(self, current_password: str) -> list[str]:
        """Ten new codes in place of the old ones, for the user who knows the password (a
        session alone cannot take a fresh way past the second factor)."""
        if not check_current_password(self.b, self.email, current_password):
            raise InvalidInput("current_password", Why.NOT_CURRENT_PASSWORD())
        return self._fresh_codes()

    def _fresh_codes(self) -> list[str]:
        codes = core.new_recovery_codes()
        self.codes.replace(self.email, [h for h in map(core.recovery_code_hash, codes) if h])
        return codes

    def recovery_codes_left(self) -> int:
        return self.codes.left(self.email)


def second_step(backends: Backends, email: str, text: str, clock: Clock = utcnow) -> bool:
    """At web login: a TOTP code (6 digits) or one unused recovery code, which is then used up."""
    if not has_second_factor(backends, email):
        return False
    digits = "".join(text.split())
    if len(digits) == 6 and digits.isdigit():
        return user_totp(backends, clock).verify(email, digits)
    code_hash = core.recovery_code_hash(text)
    return code_hash is not None and RecoveryCodes(backends.store).use(email, code_hash, clock())


def has_second_factor(backends: Backends, email: str) -> bool:
    """On when the account's entry says so (mgtSecondFactor, which moves with the entry).
    A secret left in SQL by a deleted account does not follow its address to a new account
    (the entry is new and unmarked). A marked entry whose secret is not here (a rename
    killed before its secret followed it, a purged account's entry restored) stays on:
    the web asks for a code nothing answers until an admin turns the second factor off,
    never a login with the password alone."""
    return AppPasswordDirectory(backends.gateway.as_application(), backends.layout).second_factor(email)


def turn_off(backends: Backends, email: str) -> None:
    """The main password back into userPassword (its hash as it is), the secret and the
    recovery codes gone."""
    directory = AppPasswordDirectory(backends.gateway.as_application(), backends.layout)
    web_hash = directory.web_password(email)
    if web_hash is not None:
        directory.move_main_password(email, web_hash, web_only=False)
    user_totp(backends).disable(email)
    RecoveryCodes(backends.store).remove(email)


def views(backends: Backends, email: str, apps: list[AppPassword]) -> list[AppPasswordView]:
    used = AppPasswordUses(backends.store).of(email)
    out = []
    for app in apps:
        last = used.get(app.id)
        out.append(AppPasswordView(app, *last) if last else AppPasswordView(app))
    return out


def revoke(backends: Backends, email: str, app_id: str, actor: str, origin: str) -> AppPassword:
    directory = AppPasswordDirectory(backends.gateway, backends.layout)
    app = directory.remove(email, app_id.strip())
    if app is None:
        raise NotFound("app password", app_id)
    AppPasswordUses(backends.store).forget(email, app.id)
    backends.audit.record(actor=actor, origin=origin, action="account.app_password_revoke", object_type="account",
                          object_id=f"{email} {app.id} {app.name}", domain=email.rpartition("@")[2])
    backends.doveadm.flush_auth_cache(login_names(backends, [email]))
    backends.end_sessions([email])  # sessions opened with it end now (the others log in again)
    return app


class AppPasswordAdmin(Service):
    """Operators and the admins of a domain: list a user's app passwords and revoke them;
    turn off a user's second factor (a lost phone)."""

    def __init__(self, backends: Backends, actor: Actor) -> None:
        super().__init__(backends, actor)

    def _account(self, email: str) -> str:
        account = self.b.accounts.get(email.strip().lower())
        self.actor.require_domain(account.domain)
        return account.email

    def list(self, email: str) -> list[AppPasswordView]:
        address = self._account(email)
        return views(self.b, address, AppPasswordDirectory(self.b.gateway, self.b.layout).list(address))

    def revoke(self, email: str, app_id: str) -> AppPassword:
        return revoke(self.b, self._account(email), app_id, self.actor.login, self.actor.origin)

    def reset_second_factor(self, email: str) -> bool:
        address = self._account(email)
        if not has_second_factor(self.b, address):
            return False
        turn_off(self.b, address)
        self.audit("account.totp_reset", "account", address, address.rpartition("@")[2])
        self.b.doveadm.flush_auth_cache(login_names(self.b, [address]))
        self.b.tell_relay()
        return True
