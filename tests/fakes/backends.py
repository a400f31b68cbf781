"""`Backends` made of the fakes, and the world a test arranges in them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

from mailgothai.core.models import Account, Admin, Domain, DomainLimits, Role
from mailgothai.core.passwords import hash_password
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.mailstore.mailboxes import Mailboxes
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.passwords import PasswordInput
from mailgothai.settings import Settings
from mailgothai.store.db import Store
from tests.fakes.directory import FakeAccounts, FakeAdmins, FakeAliases, FakeDirectory, FakeDomains, FakeRetained
from tests.fakes.mailserver import FakeMailServer
from tests.fakes.password_policy import FakePasswordLifecycles, FakePasswordPolicies
from tests.fakes.spam import FakeSpamPolicies
from tests.fakes.store import FakeAuditLog, FakeSnapshots

PASSWORD = "Correct horse 9"  # meets the built-in floor (core/password_policy.py)
OPERATOR = Actor("operator", Role.SUPERADMIN, origin="test")


def admin_of(*domains: str) -> Actor:
    """A domain admin of these domains."""
    return Actor("admin-" + "-".join(domains), Role.DOMAIN_ADMIN, frozenset(domains), origin="test")


class NotAPort:
    """Stands where Backends holds an adapter that is not a port (the gateway, the SQL
    store): a service under test that reaches for it fails, naming it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> NoReturn:
        raise AssertionError(f"a service reached past its ports: backends.{self._name}.{attribute}")


@dataclass
class FakeWorld:
    """The fakes behind one `Backends`, for a test to arrange and to look at."""

    backends: Backends
    directory: FakeDirectory
    audit: FakeAuditLog
    snapshots: FakeSnapshots
    mail: FakeMailServer

    def add_domain(self, name: str, **limits: Any) -> Domain:
        domain = Domain(name=name, limits=DomainLimits(**limits))
        self.backends.domains.create(domain)
        return domain

    def account(self, email: str, password: str = PASSWORD, **fields: Any) -> Account:
        """An account made as an operator makes it (through the service, so the domain's
        counters count it)."""
        from mailgothai.services.accounts import AccountService

        return AccountService(self.backends, OPERATOR).add(email, PasswordInput(plain=password), **fields).account

    def forget_history(self) -> None:
        """Clear what was recorded while arranging (audit records, Dovecot's calls), so a
        test sees only what its own action did."""
        self.audit.entries.clear()
        self.mail.flushed.clear()
        self.mail.kicked.clear()
        self.mail.flushed_all = 0

    def add_admin(self, login: str, role: Role, domains: tuple[str, ...] = (), password: str = "") -> Admin:
        admin = Admin(login=login, role=role, domains=domains)
        self.backends.admins.create(admin, hash_password(password or "x" * 12, self.backends.argon2))
        return admin


def fake_backends(data_dir: Path) -> FakeWorld:
    """Backends over empty fakes. `data_dir` (a temporary directory) holds the mailbox root;
    no relay runs from it, so telling the relay does nothing."""
    settings = Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    directory, audit, snapshots, mail = FakeDirectory(), FakeAuditLog(), FakeSnapshots(), FakeMailServer()
    backends = Backends(
        settings=settings, gateway=cast(Gateway, NotAPort("gateway")),
        domains=FakeDomains(directory), accounts=FakeAccounts(directory), aliases=FakeAliases(directory),
        admins=FakeAdmins(directory), retained=FakeRetained(directory), layout=Layout("dc=example,dc=test"),
        store=cast(Store, NotAPort("store")),
        audit=audit, snapshots=snapshots, doveadm=mail, mailboxes=Mailboxes(data_dir / "mailboxes"),
        spam=FakeSpamPolicies(), password_policies=FakePasswordPolicies(), password_lifecycle=FakePasswordLifecycles(),
    )
    return FakeWorld(backends, directory, audit, snapshots, mail)
