"""The adapters a service needs, opened once from the settings. Each is held under its
port (services/ports.py), so mypy checks the real adapters against the protocols and the
unit tests may hold in-memory fakes (tests/fakes/) instead."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mailgothai.core.passwords import Argon2Params
from mailgothai.directory.accounts import AccountDirectory
from mailgothai.directory.admins import AdminDirectory
from mailgothai.directory.aliases import AliasDirectory
from mailgothai.directory.domains import DomainDirectory
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.retained import RetainedDirectory
from mailgothai.mailstore.doveadm import Doveadm
from mailgothai.mailstore.mailboxes import Mailboxes
from mailgothai.running_relay import notify_relay
from mailgothai.services import ports
from mailgothai.settings import Settings
from mailgothai.store import AuditLog, Store
from mailgothai.store.usage import SnapshotStore


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

    @property
    def argon2(self) -> Argon2Params:
        return self.settings.argon2

    @classmethod
    def open(cls, settings: Settings) -> Backends:
        gateway = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                          timeout=settings.ldap_timeout)
        layout = Layout(settings.ldap_base)
        store = Store.open(settings.sql_url_effective)
        return cls(
            settings=settings, gateway=gateway, layout=layout,
            domains=DomainDirectory(gateway, layout), accounts=AccountDirectory(gateway, layout),
            aliases=AliasDirectory(gateway, layout), admins=AdminDirectory(gateway, layout),
            retained=RetainedDirectory(gateway, layout),
            store=store, audit=AuditLog(store), snapshots=SnapshotStore(store),
            doveadm=Doveadm(settings.dovecot_config),
            mailboxes=Mailboxes(settings.mailbox_root_path.resolve()),
        )

    def acting_for(self, admin_login: str) -> Backends:
        """The same backends, with every directory operation done as that admin's own DN,
        so slapd's access rules hold a domain admin to its domains as well."""
        gateway = self.gateway.acting_as(self.layout.admin(admin_login))
        return dataclasses.replace(
            self, gateway=gateway,
            domains=DomainDirectory(gateway, self.layout), accounts=AccountDirectory(gateway, self.layout),
            aliases=AliasDirectory(gateway, self.layout), admins=AdminDirectory(gateway, self.layout),
            retained=RetainedDirectory(gateway, self.layout),
        )

    def tell_relay(self) -> None:
        """A relay running from this data directory drops its cached directory answers now
        (SIGUSR1), so a deleted or renamed address is refused at RCPT at once; relays
        elsewhere see the change within relay_lookup_cache_ttl."""
        notify_relay(self.settings)

    def close(self) -> None:
        self.gateway.close()
        self.store.close()
