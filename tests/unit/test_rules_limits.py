"""A domain's limits, on the fakes (tests/fakes/): the number of accounts and the quota
pool hold for every way an account comes to a domain (add, quota change, restore, a
rename into it), the counters the dashboard and the limits read stay true, and a refused
change leaves no trace. The arithmetic itself is core/limits.py's (test_limits.py);
here, that the services apply it. Concurrent writers racing for the last place are the
real slapd's (tests/integration/test_domain_limits.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgothai.core.models import Domain
from mailgothai.errors import DirectoryError, LimitExceeded
from mailgothai.services.accounts import AccountService
from mailgothai.services.domains import DomainService
from mailgothai.services.lifecycle import LifecycleService
from mailgothai.services.passwords import PasswordInput
from tests.fakes import OPERATOR, FakeWorld, admin_of, fake_backends

G = 1024**3
DOMAIN = "moph.test"
ADMIN = admin_of(DOMAIN)


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    return fake_backends(tmp_path)


def domain(world: FakeWorld) -> Domain:
    return world.backends.domains.get(DOMAIN)


def counters(world: FakeWorld) -> tuple[int, int]:
    d = domain(world)
    return d.account_count, d.quota_allocated


def add(world: FakeWorld, email: str, quota: str = "1G") -> None:
    AccountService(world.backends, ADMIN).add(email, PasswordInput(generate=True), quota=quota)


def test_no_account_past_the_domains_maximum(world: FakeWorld) -> None:
    world.add_domain(DOMAIN, max_accounts=2)
    add(world, f"a@{DOMAIN}")
    add(world, f"b@{DOMAIN}")
    with pytest.raises(LimitExceeded) as refused:
        add(world, f"c@{DOMAIN}")
    assert refused.value.field == "max_accounts"
    assert world.backends.accounts.find(f"c@{DOMAIN}") is None
    assert counters(world) == (2, 2 * G)
    assert world.audit.actions() == ["account.create", "account.create"]


def test_a_deleted_account_gives_its_place_and_quota_back(world: FakeWorld) -> None:
    world.add_domain(DOMAIN, max_accounts=1, quota_pool=1 * G)
    add(world, f"a@{DOMAIN}")
    AccountService(world.backends, ADMIN).delete(f"a@{DOMAIN}")
    assert counters(world) == (0, 0)
    add(world, f"b@{DOMAIN}")
    assert counters(world) == (1, G)


def test_the_quota_pool_holds_for_new_accounts(world: FakeWorld) -> None:
    world.add_domain(DOMAIN, quota_pool=3 * G)
    add(world, f"a@{DOMAIN}", "2G")
    with pytest.raises(LimitExceeded) as refused:
        add(world, f"b@{DOMAIN}", "2G")
    assert refused.value.field == "quota"
    assert world.backends.accounts.find(f"b@{DOMAIN}") is None
    add(world, f"b@{DOMAIN}", "1G")  # exactly what is left
    assert counters(world) == (2, 3 * G)


def test_in_a_pooled_domain_no_account_is_unlimited(world: FakeWorld) -> None:
    """Quota 0 is "unlimited" to Dovecot: it would escape the pool."""
    world.add_domain(DOMAIN, quota_pool=3 * G)
    with pytest.raises(LimitExceeded):
        add(world, f"a@{DOMAIN}", "0")
    add(world, f"a@{DOMAIN}", "1G")
    with pytest.raises(LimitExceeded):
        AccountService(world.backends, ADMIN).update(f"a@{DOMAIN}", quota="0")
    assert world.backends.accounts.get(f"a@{DOMAIN}").quota == G


def test_a_quota_may_grow_within_the_pool_and_always_shrink(world: FakeWorld) -> None:
    world.add_domain(DOMAIN, quota_pool=4 * G)
    add(world, f"a@{DOMAIN}", "2G")
    add(world, f"b@{DOMAIN}", "1G")
    service = AccountService(world.backends, ADMIN)
    with pytest.raises(LimitExceeded) as refused:
        service.update(f"a@{DOMAIN}", quota="4G")
    assert refused.value.field == "quota"
    assert world.backends.accounts.get(f"a@{DOMAIN}").quota == 2 * G
    assert counters(world) == (2, 3 * G)
    service.update(f"a@{DOMAIN}", quota="3G")
    assert counters(world) == (2, 4 * G)
    # an operator lowers the pool below what is allocated: no longer possible ...
    with pytest.raises(LimitExceeded):
        DomainService(world.backends, OPERATOR).set(DOMAIN, quota_pool="3G")
    assert domain(world).limits.quota_pool == 4 * G
    # ... and a full domain's accounts may still shrink
    service.update(f"a@{DOMAIN}", quota="1G")
    assert counters(world) == (2, 2 * G)


def test_the_maximum_may_not_drop_below_the_accounts_there_are(world: FakeWorld) -> None:
    world.add_domain(DOMAIN, max_accounts=5)
    add(world, f"a@{DOMAIN}")
    add(world, f"b@{DOMAIN}")
    operator = DomainService(world.backends, OPERATOR)
    with pytest.raises(LimitExceeded) as refused:
        operator.set(DOMAIN, max_accounts=1)
    assert refused.value.field == "max_accounts"
    assert domain(world).limits.max_accounts == 5
    assert operator.set(DOMAIN, max_accounts=2).limits.max_accounts == 2


def test_a_write_that_fails_gives_the_reserved_room_back(world: FakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Room is reserved before the entry is written; if the write fails, the counters are
    as they were (else a full domain would stay full of nothing)."""
    world.add_domain(DOMAIN, max_accounts=1, quota_pool=2 * G)

    def slapd_fails(*_args: object) -> None:
        raise DirectoryError("slapd went away")

    monkeypatch.setattr(world.backends.accounts, "create", slapd_fails)
    with pytest.raises(DirectoryError):
        add(world, f"a@{DOMAIN}")
    assert counters(world) == (0, 0)
    monkeypatch.undo()
    add(world, f"a@{DOMAIN}", "2G")
    assert counters(world) == (1, 2 * G)


def test_a_restore_needs_room_in_the_domain(world: FakeWorld) -> None:
    world.add_domain(DOMAIN, max_accounts=1)
    add(world, f"a@{DOMAIN}")
    retained = AccountService(world.backends, ADMIN).delete(f"a@{DOMAIN}")
    add(world, f"b@{DOMAIN}")  # the place is taken meanwhile
    with pytest.raises(LimitExceeded):
        LifecycleService(world.backends, ADMIN).restore(retained.mailbox_id)
    assert world.backends.retained.by_id(retained.mailbox_id) is not None
    assert world.backends.accounts.find(f"a@{DOMAIN}") is None
    assert counters(world) == (1, G)


def test_a_rename_into_a_full_domain_is_refused(world: FakeWorld) -> None:
    world.add_domain(DOMAIN)
    world.add_domain("full.test", max_accounts=1)
    add(world, f"a@{DOMAIN}")
    AccountService(world.backends, admin_of("full.test")).add("x@full.test", PasswordInput(generate=True))
    both = admin_of(DOMAIN, "full.test")
    with pytest.raises(LimitExceeded):
        LifecycleService(world.backends, both).rename(f"a@{DOMAIN}", "a@full.test")
    assert world.backends.accounts.find(f"a@{DOMAIN}") is not None
    assert counters(world) == (1, G)
    assert world.backends.domains.get("full.test").account_count == 1


def test_a_rename_across_domains_moves_the_counts(world: FakeWorld) -> None:
    world.add_domain(DOMAIN)
    world.add_domain("other.test")
    add(world, f"a@{DOMAIN}", "2G")
    LifecycleService(world.backends, admin_of(DOMAIN, "other.test")).rename(f"a@{DOMAIN}", "a@other.test")
    assert counters(world) == (0, 0)
    other = world.backends.domains.get("other.test")
    assert (other.account_count, other.quota_allocated) == (1, 2 * G)


def test_a_recount_repairs_counters_left_high(world: FakeWorld) -> None:
    world.add_domain(DOMAIN, max_accounts=2)
    add(world, f"a@{DOMAIN}")
    world.backends.domains.adjust_usage(DOMAIN, 1, G)  # a crash between reserving and writing
    with pytest.raises(LimitExceeded):
        add(world, f"b@{DOMAIN}")
    assert DomainService(world.backends, OPERATOR).recount(DOMAIN).account_count == 1
    add(world, f"b@{DOMAIN}")
    assert counters(world) == (2, 2 * G)
