"""The adapters a service needs, opened once from the settings. Each is held under its
port (services/ports.py), so mypy checks the real adapters against the protocols and the
unit tests may hold in-memory fakes (tests/fakes/) instead.

The SQL store's adapters are made when a service first uses them (OnFirstUse): SQLAlchemy
is imported and the store opened then, so a command that reads only the directory (e.g.
`account show`) pays for neither."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from mailgothai.core.passwords import Argon2Params
from mailgothai.directory.accounts import AccountDirectory
from mailgothai.directory.admins import AdminDirectory
from mailgothai.directory.aliases import AliasDirectory
from mailgothai.directory.domains import DomainDirectory
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.retained import RetainedDirectory
from mailgothai.directory.shared import SharedDirectory
from mailgothai.mailstore.doveadm import Doveadm
from mailgothai.mailstore.mailboxes import Mailboxes
from mailgothai.mailstore.sieve import SieveScripts
from mailgothai.mailstore.vacation import VacationScripts
from mailgothai.rspamd_controller import RspamdController
from mailgothai.running_relay import notify_relay
from mailgothai.services import ports
from mailgothai.settings import Settings

if TYPE_CHECKING:
    from mailgothai.store.db import Store


class OnFirstUse:
    """Stands for an adapter until its first use, and makes it then (once, whichever
    thread comes first); every attribute is the made adapter's. What making it raises
    (Store.open's StoreError) is raised at that first use. close() closes it only if it
    was made."""

    _OWN = frozenset({"_make", "_made", "_lock"})

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._made: Any = None
        self._lock = threading.Lock()

    def made(self) -> Any:
        if self._made is None:
            with self._lock:
                if self._made is None:
                    self._made = self._make()
        return self._made

    def __getattr__(self, name: str) -> Any:
        if name in OnFirstUse._OWN:  # not yet set (a copy being made): never make the adapter for it
            raise AttributeError(name)
        return getattr(self.made(), name)

    def close(self) -> None:
        if self._made is not None:
            self._made.close()


def _sql_adapters(url: str) -> tuple[Store, ports.AuditLog, ports.UsageSnapshots]:
    """The store and the adapters over it, each made on first use."""

    def open_store() -> Store:
        from mailgothai.store.db import Store

        return Store.open(url)

    def audit_log() -> ports.AuditLog:
        from mailgothai.store.audit import AuditLog

        return AuditLog(store.made())

    def snapshots() -> ports.UsageSnapshots:
        from mailgothai.store.usage import SnapshotStore

        return SnapshotStore(store.made())

    store = OnFirstUse(open_store)
    return (cast("Store", store), cast("ports.AuditLog", OnFirstUse(audit_log)),
            cast("ports.UsageSnapshots", OnFirstUse(snapshots)))


def _login_times(store: Store) -> ports.LoginTimes:
    """The last-login table over the store, made on first use (store/last_login.py)."""

    def make() -> ports.LoginTimes:
        from mailgothai.store.last_login import LastLogins

        return LastLogins(cast("OnFirstUse", store).made())

    return cast("ports.LoginTimes", OnFirstUse(make))


def _spam_policies(store: Store) -> ports.SpamPolicies:
    """The inbound protection tables over the store, made on first use (store/spam_policy.py)."""

    def make() -> ports.SpamPolicies:
        from mailgothai.store.spam_policy import SpamPolicies

        return SpamPolicies(cast("OnFirstUse", store).made())

    return cast("ports.SpamPolicies", OnFirstUse(make))


def _password_policies(store: Store) -> ports.PasswordPolicies:
    """The password policies over the store, made on first use (store/password_policy.py)."""

    def make() -> ports.PasswordPolicies:
        from mailgothai.store.password_policy import PasswordPolicies

        return PasswordPolicies(cast("OnFirstUse", store).made())

    return cast("ports.PasswordPolicies", OnFirstUse(make))


def _password_lifecycles(store: Store) -> ports.PasswordLifecycles:
    """Passwords over time over the store, made on first use (store/password_lifecycle.py)."""

    def make() -> ports.PasswordLifecycles:
        from mailgothai.store.password_lifecycle import PasswordLifecycles

        return PasswordLifecycles(cast("OnFirstUse", store).made())

    return cast("ports.PasswordLifecycles", OnFirstUse(make))


def _account_secrets(store: Store) -> ports.AccountSecrets:
    """Users' second factors and recovery addresses over the store, made on first use
    (store/second_factor.py)."""

    def make() -> ports.AccountSecrets:
        from mailgothai.store.second_factor import AccountSecrets

        return AccountSecrets(cast("OnFirstUse", store).made())

    return cast("ports.AccountSecrets", OnFirstUse(make))


def _quarantine(store: Store) -> ports.Quarantined:
    """The quarantine's index over the store, made on first use (store/quarantine.py)."""

    def make() -> ports.Quarantined:
        from mailgothai.store.quarantine import QuarantineIndex

        return QuarantineIndex(cast("OnFirstUse", store).made())

    return cast("ports.Quarantined", OnFirstUse(make))


def _held_messages(settings: Settings) -> ports.HeldMessages:
    """The quarantine's files on this machine (the store package imports SQLAlchemy: on first use)."""

    def make() -> ports.HeldMessages:
        from mailgothai.store.quarantine_files import QuarantineFiles

        return QuarantineFiles(settings.quarantine_path)

    return cast("ports.HeldMessages", OnFirstUse(make))


@dataclass
class Backends:
    settings: Settings
    gateway: Gateway  # for what is not a port: sorted listings (directory/vlv.py), health
    domains: ports.Domains
    accounts: ports.Accounts
    aliases: ports.Aliases
    admins: ports.Admins
    retained: ports.Retained
    layout: Layout
    store: Store  # opens the store's other repositories (sessions, tokens, jobs, …)
    audit: ports.AuditLog
    snapshots: ports.UsageSnapshots
    doveadm: ports.MailServer
    mailboxes: Mailboxes
    shared: ports.SharedMailboxes | None = None  # shared role mailboxes (issue 17)
    sieve_scripts: ports.SieveScripts | None = None  # users' Sieve scripts (issue 17: filters)
    vacation_scripts: ports.SieveScripts | None = None  # out-of-office scripts (mailstore/vacation.py)
    logins: ports.LoginTimes | None = None  # last logins (issue 17), SQL, made on first use
    quarantine: ports.Quarantined | None = None  # the quarantine's index (issue 18), SQL, on first use
    held_messages: ports.HeldMessages | None = None  # the quarantined messages kept on this machine
    spam_learner: ports.SpamLearner | None = None  # rspamd's controller (learn spam / ham)
    spam: ports.SpamPolicies | None = None  # spam policies and sender lists (issue 18), SQL, on first use
    # password policies (issue 20), SQL, on first use; None: the built-in floor (core/password_policy.py)
    password_policies: ports.PasswordPolicies | None = None
    # change at next login and expiry per domain (issue 20), SQL, on first use; None: the defaults
    password_lifecycle: ports.PasswordLifecycles | None = None
    # a user's second factor and recovery address (issue 20), SQL, on first use
    account_secrets: ports.AccountSecrets | None = None

    @property
    def argon2(self) -> Argon2Params:
        return self.settings.argon2

    @classmethod
    def open(cls, settings: Settings) -> Backends:
        gateway = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                          timeout=settings.ldap_timeout)
        layout = Layout(settings.ldap_base)
        store, audit, snapshots = _sql_adapters(settings.sql_url_effective)
        return cls(
            settings=settings, gateway=gateway, layout=layout,
            domains=DomainDirectory(gateway, layout), accounts=AccountDirectory(gateway, layout),
            aliases=AliasDirectory(gateway, layout), admins=AdminDirectory(gateway, layout),
            retained=RetainedDirectory(gateway, layout),
            store=store, audit=audit, snapshots=snapshots,
            doveadm=Doveadm(settings.dovecot_config),
            mailboxes=Mailboxes(settings.mailbox_root_path.resolve()),
            shared=SharedDirectory(gateway, layout),
            sieve_scripts=SieveScripts(settings.dovecot_config),
            vacation_scripts=VacationScripts(settings.dovecot_config),
            logins=_login_times(store),
            quarantine=_quarantine(store), held_messages=_held_messages(settings),
            spam_learner=RspamdController.from_settings(settings),
            spam=_spam_policies(store),
            password_policies=_password_policies(store),
            password_lifecycle=_password_lifecycles(store),
            account_secrets=_account_secrets(store),
        )

    def acting_for(self, admin_login: str) -> Backends:
        """The same backends, with every directory operation done as that admin's own DN,
        so slapd's access rules hold a domain admin to its domains as well."""
        gateway = self.gateway.acting_as(self.layout.admin(admin_login))
        return dataclasses.replace(
            self, gateway=gateway,
            domains=DomainDirectory(gateway, self.layout), accounts=AccountDirectory(gateway, self.layout),
            aliases=AliasDirectory(gateway, self.layout), admins=AdminDirectory(gateway, self.layout),
            retained=RetainedDirectory(gateway, self.layout), shared=SharedDirectory(gateway, self.layout),
        )

    def tell_relay(self) -> None:
        """A relay running from this data directory drops its cached directory answers now
        (SIGUSR1), so a deleted or renamed address is refused at RCPT at once; relays
        elsewhere see the change within relay_lookup_cache_ttl."""
        notify_relay(self.settings)

    def end_sessions(self, logins: list[str]) -> None:
        """Sessions these accounts opened before a change of their password, status or
        rights end now on this node: Dovecot's IMAP and ManageSieve sessions (doveadm kick;
        `*@DOMAIN` for a whole domain) and the relay's SMTP sessions, which end at their next
        command once the relay reads the entries again (relay/handler._login_holds). Relays
        elsewhere end theirs within relay_lookup_cache_ttl; Dovecot elsewhere keeps its own."""
        self.doveadm.kick(logins)
        self.tell_relay()

    def close(self) -> None:
        self.gateway.close()
        self.store.close()
