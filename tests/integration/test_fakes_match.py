"""The fakes of tests/fakes/ behave as the real directory adapters do, on the points the
service rules tested on them rely on (tests/unit/test_rules_*.py): each check runs once
on the fakes and once on the real slapd, through the same ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.limits import check_account_fits
from mailgothai.core.models import Account, Alias, Domain, DomainLimits
from mailgothai.core.passwords import hash_password
from mailgothai.errors import AlreadyExists, DirectoryError, LimitExceeded, NotFound
from mailgothai.services.backends import Backends
from mailgothai.settings import Settings
from tests.fakes import fake_backends

pytestmark = pytest.mark.integration
G = 1024**3


@pytest.fixture(params=["fake", "real"])
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backends]:
    if request.param == "fake":
        yield fake_backends(tmp_path).backends
        return
    stack: Settings = request.getfixturevalue("stack")
    real = Backends.open(stack)
    try:
        yield real
    finally:
        real.close()


@pytest.fixture
def domain(backends: Backends) -> str:
    name = f"f{uuid.uuid4().hex[:10]}.go.th"
    backends.domains.create(Domain(name=name, limits=DomainLimits(max_accounts=2, quota_pool=3 * G)))
    return name


def add(backends: Backends, email: str, quota: int = G, aliases: tuple[str, ...] = ()) -> None:
    domain = email.rpartition("@")[2]
    backends.accounts.create(Account(email=email, domain=domain, quota=quota, aliases=aliases),
                             hash_password("correct horse 9", backends.argon2))


def test_one_holder_per_address(backends: Backends, domain: str) -> None:
    add(backends, f"somchai@{domain}", aliases=(f"sj@{domain}",))
    backends.aliases.create(Alias(f"team@{domain}", domain, (f"somchai@{domain}",)))
    assert backends.aliases.holder_of(f"somchai@{domain}") == "account"
    assert backends.aliases.holder_of(f"SomChai@{domain}") == "account"
    assert backends.aliases.holder_of(f"sj@{domain}") == "account alias"
    assert backends.aliases.holder_of(f"team@{domain}") == "alias"
    assert backends.aliases.holder_of(f"nobody@{domain}") is None
    with pytest.raises(AlreadyExists):
        add(backends, f"somchai@{domain}")
    with pytest.raises(NotFound):
        backends.accounts.get(f"nobody@{domain}")
    with pytest.raises(NotFound):
        add(backends, "somchai@not-hosted.go.th")
    assert [a.address for a in backends.aliases.with_member(f"somchai@{domain}")] == [f"team@{domain}"]


def test_counters_change_only_when_the_check_lets_them(backends: Backends, domain: str) -> None:
    before = backends.domains.adjust_usage(domain, 1, 2 * G, check=lambda d: check_account_fits(d, 2 * G))
    assert (before.account_count, before.quota_allocated) == (0, 0)  # it returns the counters it checked
    with pytest.raises(LimitExceeded):
        backends.domains.adjust_usage(domain, 1, 2 * G, check=lambda d: check_account_fits(d, 2 * G))
    now = backends.domains.get(domain)
    assert (now.account_count, now.quota_allocated) == (1, 2 * G)
    add(backends, f"a@{domain}", quota=G)  # an entry alone does not count: the services count
    assert backends.domains.get(domain).account_count == 1
    recounted = backends.domains.recount(domain)
    assert (recounted.account_count, recounted.quota_allocated) == (1, G)


def test_the_mailbox_id_comes_with_one_account_and_bulk_reads_asked_for_it(backends: Backends, domain: str) -> None:
    add(backends, f"a@{domain}")
    one = backends.accounts.get(f"a@{domain}")
    assert one.mailbox_id
    assert [a.mailbox_id for a in backends.accounts.iter_domain(domain)] == [""]
    assert [a.mailbox_id for a in backends.accounts.first_page(domain, 10)[0]] == [""]
    assert [a.mailbox_id for a in backends.accounts.first_page(domain, 10, with_identity=True)[0]] == [one.mailbox_id]
    assert backends.accounts.find_by_id(one.mailbox_id) == one


def test_retired_and_restored_with_the_same_mailbox(backends: Backends, domain: str) -> None:
    add(backends, f"a@{domain}", aliases=(f"alias-a@{domain}",))
    account = backends.accounts.get(f"a@{domain}")
    now = datetime.now(UTC).replace(microsecond=0)
    retained = backends.retained.retire(account, now, "tester", now + timedelta(days=30), 123)
    assert retained.mailbox_id == account.mailbox_id and retained.size == 123
    assert backends.accounts.find(f"a@{domain}") is None
    assert backends.aliases.holder_of(f"a@{domain}") is None
    assert backends.aliases.holder_of(f"alias-a@{domain}") is None
    assert backends.retained.by_id(account.mailbox_id) == retained
    assert [r.mailbox_id for r in backends.retained.by_address(f"a@{domain}")] == [account.mailbox_id]
    backends.retained.drop_aliases(retained, ())
    backends.retained.restore(retained, f"b@{domain}")
    back = backends.accounts.get(f"b@{domain}")
    assert back.mailbox_id == account.mailbox_id and back.aliases == ()
    assert backends.retained.by_id(account.mailbox_id) is None
    assert backends.accounts.check_password(f"b@{domain}", "correct horse 9")
    assert not backends.accounts.check_password(f"b@{domain}", "wrong horse 9")


def test_a_domain_that_holds_entries_is_not_deleted(backends: Backends, domain: str) -> None:
    add(backends, f"a@{domain}")
    with pytest.raises(DirectoryError):
        backends.domains.delete(domain)
    assert backends.domains.find(domain) is not None
