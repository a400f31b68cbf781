"""An account's life as the services define it, on the fakes (tests/fakes/): suspended
and reactivated, deleted into retention and restored, renamed; a domain suspended or
deleted. Checked by what a user sees afterwards: who may log in, where the account is
listed, which address is free, what Dovecot was told to forget.

That Dovecot and the relay then really refuse the address is tested against the real
servers (tests/integration/test_account_lifecycle.py, test_login_lifecycle.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.models import Status
from mailgothai.errors import AlreadyExists, DirectoryError, InvalidInput, NotFound
from mailgothai.services.accounts import AccountService
from mailgothai.services.aliases import AliasService
from mailgothai.services.domains import DomainService
from mailgothai.services.holds import HoldService
from mailgothai.services.lifecycle import LifecycleService
from tests.fakes import OPERATOR, PASSWORD, FakeWorld, admin_of, fake_backends

G = 1024**3
DOMAIN = "moph.test"
ADMIN = admin_of(DOMAIN)
SOMCHAI = f"somchai@{DOMAIN}"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    world = fake_backends(tmp_path)
    world.add_domain(DOMAIN, retention_days=45)
    world.account(SOMCHAI, quota="2G", aliases=f"somchai.j@{DOMAIN}")
    world.forget_history()
    return world


def accounts(world: FakeWorld) -> AccountService:
    return AccountService(world.backends, ADMIN)


def lifecycle(world: FakeWorld) -> LifecycleService:
    return LifecycleService(world.backends, ADMIN, clock=lambda: NOW)


def logs_in(world: FakeWorld, email: str = SOMCHAI, password: str = PASSWORD) -> bool:
    return accounts(world).check_login(email, password)


# ---- suspend and reactivate --------------------------------------------------------------


def test_a_suspended_account_cannot_log_in_until_reactivated(world: FakeWorld) -> None:
    assert logs_in(world)
    accounts(world).set_status(SOMCHAI, Status.DISABLED)
    assert not logs_in(world)
    assert world.mail.flushed == [SOMCHAI]  # Dovecot forgets the cached login at once
    assert world.backends.accounts.get(SOMCHAI).status is Status.DISABLED
    accounts(world).set_status(SOMCHAI, Status.ACTIVE)
    assert logs_in(world)
    assert world.audit.actions() == ["account.suspend", "account.activate"]


def test_suspending_a_suspended_account_changes_nothing(world: FakeWorld) -> None:
    accounts(world).set_status(SOMCHAI, Status.DISABLED)
    accounts(world).set_status(SOMCHAI, Status.DISABLED)
    assert world.audit.actions() == ["account.suspend"]


def test_in_a_suspended_domain_nobody_logs_in(world: FakeWorld) -> None:
    DomainService(world.backends, OPERATOR).set_status(DOMAIN, Status.DISABLED)
    assert world.mail.flushed_all == 1
    assert not logs_in(world)
    assert world.backends.accounts.get(SOMCHAI).status is Status.ACTIVE  # the account itself is untouched
    DomainService(world.backends, OPERATOR).set_status(DOMAIN, Status.ACTIVE)
    assert logs_in(world)


def test_a_wrong_password_does_not_log_in(world: FakeWorld) -> None:
    assert not logs_in(world, password="not the password")
    assert not logs_in(world, email=f"nobody@{DOMAIN}")


# ---- delete into retention -----------------------------------------------------------------


def test_a_deleted_account_is_kept_for_its_domains_period(world: FakeWorld) -> None:
    mailbox = world.backends.accounts.get(SOMCHAI).mailbox_id
    world.mail.sizes[SOMCHAI] = 12345
    retained = lifecycle(world).retire(world.backends.accounts.get(SOMCHAI), world.backends.domains.get(DOMAIN))
    assert retained.mailbox_id == mailbox
    assert retained.purge_after == NOW + timedelta(days=45)
    assert retained.size == 12345
    assert retained.deleted_by == ADMIN.login
    assert [r.mailbox_id for r in lifecycle(world).deleted(DOMAIN)] == [mailbox]


def test_a_deleted_account_logs_in_nowhere_and_frees_its_addresses(world: FakeWorld) -> None:
    world.snapshots.write({SOMCHAI: 10}, {SOMCHAI: DOMAIN}, NOW)
    accounts(world).delete(SOMCHAI)
    assert not logs_in(world)
    with pytest.raises(NotFound):
        accounts(world).get(SOMCHAI)
    assert SOMCHAI in world.mail.flushed and SOMCHAI in world.mail.kicked  # open IMAP sessions end
    assert world.snapshots.readings([SOMCHAI]) == {}  # a new holder starts with no usage reading
    assert world.backends.aliases.holder_of(SOMCHAI) is None
    assert world.backends.aliases.holder_of(f"somchai.j@{DOMAIN}") is None
    # the address may be given to someone new, with a mailbox of its own
    new = world.account(SOMCHAI, password="Another password 2")
    assert new.mailbox_id != lifecycle(world).deleted(DOMAIN)[0].mailbox_id
    assert world.audit.actions() == ["account.delete", "account.create"]


def test_a_restored_account_comes_back_with_its_mailbox(world: FakeWorld) -> None:
    retained = accounts(world).delete(SOMCHAI)
    world.mail.flushed.clear()
    restored = lifecycle(world).restore(SOMCHAI)
    assert restored.account.email == SOMCHAI
    assert restored.account.mailbox_id == retained.mailbox_id
    assert restored.account.aliases == (f"somchai.j@{DOMAIN}",) and restored.dropped_aliases == ()
    assert logs_in(world)  # with its old password
    assert world.mail.flushed == [SOMCHAI]
    assert lifecycle(world).deleted(DOMAIN) == []
    domain = world.backends.domains.get(DOMAIN)
    assert (domain.account_count, domain.quota_allocated) == (1, 2 * G)


def test_a_restore_drops_the_aliases_someone_took_meanwhile(world: FakeWorld) -> None:
    accounts(world).delete(SOMCHAI)
    AliasService(world.backends, ADMIN).add(f"somchai.j@{DOMAIN}", f"boss@{DOMAIN}")
    restored = lifecycle(world).restore(SOMCHAI)
    assert restored.dropped_aliases == (f"somchai.j@{DOMAIN}",)
    assert restored.account.aliases == ()
    assert world.backends.aliases.get(f"somchai.j@{DOMAIN}").members == (f"boss@{DOMAIN}",)


def test_a_restore_to_a_taken_address_is_refused_but_another_may_be_given(world: FakeWorld) -> None:
    retained = accounts(world).delete(SOMCHAI)
    world.account(SOMCHAI, password="Another password 2")
    with pytest.raises(AlreadyExists):
        lifecycle(world).restore(retained.mailbox_id)
    restored = lifecycle(world).restore(retained.mailbox_id, as_address=f"somchai.old@{DOMAIN}")
    assert restored.account.mailbox_id == retained.mailbox_id
    assert logs_in(world, f"somchai.old@{DOMAIN}")
    assert logs_in(world, SOMCHAI, "Another password 2")


def test_a_restore_stays_in_the_accounts_domain(world: FakeWorld) -> None:
    world.add_domain("other.test")
    retained = accounts(world).delete(SOMCHAI)
    both = LifecycleService(world.backends, admin_of(DOMAIN, "other.test"))
    with pytest.raises(InvalidInput) as refused:
        both.restore(retained.mailbox_id, as_address="somchai@other.test")
    assert refused.value.field == "as"
    assert world.backends.retained.by_id(retained.mailbox_id) is not None


def test_an_address_deleted_twice_is_restored_by_its_mailbox_id(world: FakeWorld) -> None:
    first = accounts(world).delete(SOMCHAI)
    world.account(SOMCHAI)
    second = accounts(world).delete(SOMCHAI)
    with pytest.raises(InvalidInput) as refused:
        lifecycle(world).restore(SOMCHAI)
    assert refused.value.field == "account"
    assert lifecycle(world).restore(first.mailbox_id).account.mailbox_id == first.mailbox_id
    assert world.backends.retained.by_id(second.mailbox_id) is not None


def test_no_restore_once_the_purge_has_begun(world: FakeWorld) -> None:
    retained = accounts(world).delete(SOMCHAI)
    world.backends.retained.mark_purging(retained)
    with pytest.raises(InvalidInput):
        lifecycle(world).restore(retained.mailbox_id)
    assert world.backends.accounts.find(SOMCHAI) is None


def test_no_restore_while_its_domain_is_gone(world: FakeWorld) -> None:
    retained = AccountService(world.backends, OPERATOR).delete(SOMCHAI)
    DomainService(world.backends, OPERATOR).delete(DOMAIN)
    operator = LifecycleService(world.backends, OPERATOR)
    assert [r.mailbox_id for r in operator.deleted(DOMAIN)] == [retained.mailbox_id]  # operators still see it
    with pytest.raises(InvalidInput):
        operator.restore(retained.mailbox_id)
    world.add_domain(DOMAIN)  # an operator adds the domain again
    assert operator.restore(retained.mailbox_id).account.mailbox_id == retained.mailbox_id


# ---- rename ----------------------------------------------------------------------------


def test_a_renamed_account_keeps_its_mailbox_and_the_aliases_follow(world: FakeWorld) -> None:
    AliasService(world.backends, ADMIN).add(f"team@{DOMAIN}", f"{SOMCHAI};boss@{DOMAIN}")
    before = world.backends.accounts.get(SOMCHAI)
    after = lifecycle(world).rename(SOMCHAI, f"somchai.j@{DOMAIN}")
    assert after.mailbox_id == before.mailbox_id and after.quota == before.quota
    assert after.aliases == ()  # the alias it took is its address now
    assert world.backends.aliases.get(f"team@{DOMAIN}").members == (f"somchai.j@{DOMAIN}", f"boss@{DOMAIN}")
    assert not logs_in(world, SOMCHAI)
    assert logs_in(world, f"somchai.j@{DOMAIN}")
    assert SOMCHAI in world.mail.flushed and SOMCHAI in world.mail.kicked


def test_a_rename_may_keep_the_old_address_as_an_alias(world: FakeWorld) -> None:
    after = lifecycle(world).rename(SOMCHAI, f"s.jaidee@{DOMAIN}", keep_old_as_alias=True)
    assert SOMCHAI in after.aliases
    assert world.backends.aliases.holder_of(SOMCHAI) == "account alias"


def test_a_rename_to_a_taken_address_is_refused(world: FakeWorld) -> None:
    world.account(f"other@{DOMAIN}")
    with pytest.raises(AlreadyExists):
        lifecycle(world).rename(SOMCHAI, f"other@{DOMAIN}")
    assert world.backends.accounts.find(SOMCHAI) is not None


# ---- a domain's end ----------------------------------------------------------------------


def test_a_domain_with_accounts_is_deleted_only_when_forced(world: FakeWorld) -> None:
    AliasService(world.backends, ADMIN).add(f"team@{DOMAIN}", SOMCHAI)
    operator = DomainService(world.backends, OPERATOR)
    with pytest.raises(InvalidInput):
        operator.delete(DOMAIN)
    assert world.backends.domains.find(DOMAIN) is not None and logs_in(world)
    operator.delete(DOMAIN, force=True)
    assert world.backends.domains.find(DOMAIN) is None
    assert not logs_in(world)
    assert [r.email for r in world.backends.retained.iter_domain(DOMAIN)] == [SOMCHAI]  # kept, not purged
    assert world.backends.aliases.holder_of(f"team@{DOMAIN}") is None
    assert world.audit.actions()[-3:] == ["account.delete", "alias.delete", "domain.delete"]


def test_a_domain_on_hold_is_not_deleted(world: FakeWorld) -> None:
    HoldService(world.backends, OPERATOR).hold_domain(DOMAIN, "court order 12/2569")
    with pytest.raises(InvalidInput):
        DomainService(world.backends, OPERATOR).delete(DOMAIN, force=True)
    assert world.backends.domains.find(DOMAIN) is not None
    assert world.backends.accounts.find(SOMCHAI) is not None


def test_the_fake_refuses_to_delete_a_domain_that_still_holds_entries(world: FakeWorld) -> None:
    """As slapd does (a non-leaf entry): the services must empty a domain first."""
    with pytest.raises(DirectoryError):
        world.backends.domains.delete(DOMAIN)
