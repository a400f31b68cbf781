"""Rights, on the fakes (tests/fakes/): a domain admin reaches its own domains only, and
outside them finds nothing (NotFound, as if the domain did not exist); limits are an
operator's. Each refusal is checked by what a user would look at afterwards: the object
is unchanged, the domain's counters too, and no audit record was written.

slapd's own access rules, which hold a domain admin to its domains even past the
services, are tested against the real slapd (tests/integration/test_access_control.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailgothai.core.models import Status
from mailgothai.errors import InvalidInput, NotFound, PermissionDenied
from mailgothai.services.accounts import AccountService
from mailgothai.services.aliases import AliasService
from mailgothai.services.domains import DomainService
from mailgothai.services.lifecycle import LifecycleService
from mailgothai.services.passwords import PasswordInput
from tests.fakes import OPERATOR, FakeWorld, admin_of, fake_backends

MINE, THEIRS = "mine.test", "theirs.test"
ADMIN = admin_of(MINE)


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    world = fake_backends(tmp_path)
    for name in (MINE, THEIRS):
        world.add_domain(name, quota_pool=10 * 1024**3)
        world.account(f"somchai@{name}", quota="1G")
    AliasService(world.backends, OPERATOR).add(f"team@{THEIRS}", f"somchai@{THEIRS}")
    world.forget_history()
    return world


def accounts(world: FakeWorld) -> AccountService:
    return AccountService(world.backends, ADMIN)


def aliases(world: FakeWorld) -> AliasService:
    return AliasService(world.backends, ADMIN)


OTHER_DOMAINS_ACCOUNT: dict[str, Callable[[FakeWorld], Any]] = {
    "read": lambda w: accounts(w).get(f"somchai@{THEIRS}"),
    "add": lambda w: accounts(w).add(f"new@{THEIRS}", PasswordInput(generate=True)),
    "rename a name": lambda w: accounts(w).update(f"somchai@{THEIRS}", display_name="x"),
    "raise the quota": lambda w: accounts(w).update(f"somchai@{THEIRS}", quota="2G"),
    "suspend": lambda w: accounts(w).set_status(f"somchai@{THEIRS}", Status.DISABLED),
    "set the password": lambda w: accounts(w).set_password(f"somchai@{THEIRS}", PasswordInput(generate=True)),
    "delete": lambda w: accounts(w).delete(f"somchai@{THEIRS}"),
    "list": lambda w: list(accounts(w).iter_domain(THEIRS)),
    "rename into it": lambda w: LifecycleService(w.backends, ADMIN).rename(f"somchai@{MINE}", f"moved@{THEIRS}"),
    "rename out of it": lambda w: LifecycleService(w.backends, ADMIN).rename(f"somchai@{THEIRS}", f"moved@{MINE}"),
}


@pytest.mark.parametrize("action", OTHER_DOMAINS_ACCOUNT)
def test_a_domain_admin_finds_no_account_of_another_domain(world: FakeWorld, action: str) -> None:
    before = dict(world.directory.accounts), dict(world.directory.domains)
    with pytest.raises(NotFound) as refused:
        OTHER_DOMAINS_ACCOUNT[action](world)
    assert refused.value.kind == "domain" and refused.value.key == THEIRS
    assert (dict(world.directory.accounts), dict(world.directory.domains)) == before
    assert world.audit.entries == [] and world.mail.flushed == []


OTHER_DOMAINS_ALIAS: dict[str, Callable[[FakeWorld], Any]] = {
    "read": lambda w: aliases(w).get(f"team@{THEIRS}"),
    "add": lambda w: aliases(w).add(f"sales@{THEIRS}", f"somchai@{MINE}"),
    "change its members": lambda w: aliases(w).set_members(f"team@{THEIRS}", f"somchai@{MINE}"),
    "suspend": lambda w: aliases(w).set_status(f"team@{THEIRS}", Status.DISABLED),
    "delete": lambda w: aliases(w).delete(f"team@{THEIRS}"),
    "list": lambda w: list(aliases(w).iter_domain(THEIRS)),
}


@pytest.mark.parametrize("action", OTHER_DOMAINS_ALIAS)
def test_a_domain_admin_finds_no_alias_of_another_domain(world: FakeWorld, action: str) -> None:
    before = dict(world.directory.aliases)
    with pytest.raises(NotFound):
        OTHER_DOMAINS_ALIAS[action](world)
    assert dict(world.directory.aliases) == before
    assert world.audit.entries == []


def test_an_account_may_not_take_an_alias_address_of_another_domain(world: FakeWorld) -> None:
    with pytest.raises(InvalidInput) as refused:
        accounts(world).update(f"somchai@{MINE}", aliases=f"boss@{THEIRS}")
    assert refused.value.field == "aliases"
    assert world.backends.accounts.get(f"somchai@{MINE}").aliases == ()
    assert world.backends.aliases.holder_of(f"boss@{THEIRS}") is None


def test_an_alias_may_deliver_anywhere_but_lives_in_its_own_domain(world: FakeWorld) -> None:
    """Members are addresses, anywhere (mail leaves for them); the alias itself is the
    admin's to make only in its own domain."""
    alias = aliases(world).add(f"sales@{MINE}", f"somchai@{THEIRS};someone@example.org")
    assert world.backends.aliases.get(f"sales@{MINE}") == alias
    assert world.audit.actions() == ["alias.create"]


def test_a_domain_admin_sees_only_its_domains(world: FakeWorld) -> None:
    assert [d.name for d in DomainService(world.backends, ADMIN).list()] == [MINE]
    assert [d.name for d in DomainService(world.backends, OPERATOR).list()] == [MINE, THEIRS]
    found = accounts(world).search("somchai")
    assert [a.email for a in found] == [f"somchai@{MINE}"]


def test_limits_and_quota_pools_are_an_operators(world: FakeWorld) -> None:
    """Its own domain's limits a domain admin may read and not change; another domain's
    it does not find."""
    domains = DomainService(world.backends, ADMIN)
    assert domains.get(MINE).limits.quota_pool == 10 * 1024**3
    with pytest.raises(PermissionDenied):
        domains.set(MINE, quota_pool="100G")
    with pytest.raises(NotFound):
        domains.set(THEIRS, quota_pool="100G")
    with pytest.raises(PermissionDenied):
        domains.set_status(MINE, Status.DISABLED)
    with pytest.raises(PermissionDenied):
        domains.delete(MINE, force=True)
    with pytest.raises(PermissionDenied):
        domains.add("new.test")
    assert world.backends.domains.get(MINE).limits.quota_pool == 10 * 1024**3
    assert world.backends.domains.get(MINE).status is Status.ACTIVE
    assert world.backends.domains.find("new.test") is None
    assert world.audit.entries == []


def test_in_its_own_domain_a_domain_admin_manages_accounts(world: FakeWorld) -> None:
    """The other side of the refusals: the same actions in its own domain go through."""
    service = accounts(world)
    service.add(f"new@{MINE}", PasswordInput(generate=True), quota="1G")
    service.update(f"new@{MINE}", quota="2G")
    service.set_status(f"new@{MINE}", Status.DISABLED)
    service.delete(f"new@{MINE}")
    assert world.audit.actions() == ["account.create", "account.update", "account.suspend", "account.delete"]
    assert {e.actor for e in world.audit.entries} == {ADMIN.login}


def test_a_domain_admin_finds_no_deleted_account_of_another_domain(world: FakeWorld) -> None:
    retained = accounts_of_operator(world).delete(f"somchai@{THEIRS}")
    lifecycle = LifecycleService(world.backends, ADMIN)
    with pytest.raises(NotFound):
        lifecycle.get_deleted(retained.mailbox_id)
    with pytest.raises(NotFound):
        lifecycle.restore(f"somchai@{THEIRS}")
    with pytest.raises(NotFound):
        lifecycle.deleted(THEIRS)
    assert world.backends.retained.by_id(retained.mailbox_id) == retained
    assert world.backends.accounts.find(f"somchai@{THEIRS}") is None


def accounts_of_operator(world: FakeWorld) -> AccountService:
    return AccountService(world.backends, OPERATOR)
