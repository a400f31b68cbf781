"""The inbound protection tables (store/spam_policy.py, migration 0007) on a real database:
SQLite here, PostgreSQL when the suite runs the `sql` tests there (a database of its own in
the private cluster). What the relay reads (policy_of, rules_for, record) and what the
services keep (policies, defaults and bounds, lists, counts)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.spam import ListKind, PolicyBounds, SenderRule, SpamPolicy, listed
from mailgothai.errors import AlreadyExists
from mailgothai.store.db import Store
from mailgothai.store.spam_policy import SpamPolicies
from tests import pgcluster

pytestmark = pytest.mark.sql


def _url(tmp_path: Path) -> str:
    return pgcluster.cluster().new_database() if pgcluster.wanted() else f"sqlite:///{tmp_path / 'store.sqlite3'}"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return _url(tmp_path)


@pytest.fixture
def policies(url: str) -> Iterator[SpamPolicies]:
    store = Store.open(url)
    store.migrate()
    try:
        yield SpamPolicies(store)
    finally:
        store.close()


def test_a_domain_follows_the_operators_default_until_it_has_its_own(policies: SpamPolicies) -> None:
    assert policies.policy_of("a.go.th") == SpamPolicy()  # nothing set anywhere: the built-in default
    default = SpamPolicy(junk=5.0, quarantine=None, reject=12.5, greylisting=False, quarantine_days=14)
    policies.set_defaults(default, PolicyBounds(4.0, 30.0, 60, False), "operator")
    assert policies.policy_of("a.go.th") == default
    assert policies.defaults() == (default, PolicyBounds(4.0, 30.0, 60, False))
    own = SpamPolicy(junk=None, quarantine=8.0, reject=None, greylisting=True, quarantine_days=7)
    policies.set_policy("a.go.th", own, "admin-a")
    assert policies.policy_of("A.GO.TH") == own and policies.policy_of("b.go.th") == default
    stored = policies.own_policy("a.go.th")
    assert stored is not None and stored[0] == own and stored[1].by == "admin-a"
    assert stored[1].at.tzinfo is not None
    policies.set_policy("a.go.th", SpamPolicy(), "operator")  # replaced, not added
    assert policies.policy_of("a.go.th") == SpamPolicy()
    assert policies.drop_policy("a.go.th") and not policies.drop_policy("a.go.th")
    assert policies.policy_of("a.go.th") == default and policies.own_policy("a.go.th") is None


def test_rules_for_a_recipient_are_its_domains_and_its_own(policies: SpamPolicies) -> None:
    policies.add_rule(SenderRule("a.go.th", ListKind.ALLOW, "partner.example"), "admin-a")
    policies.add_rule(SenderRule("somchai@a.go.th", ListKind.BLOCK, "spam@partner.example"), "somchai@a.go.th")
    policies.add_rule(SenderRule("malee@a.go.th", ListKind.BLOCK, "partner.example"), "malee@a.go.th")
    policies.add_rule(SenderRule("b.go.th", ListKind.BLOCK, "partner.example"), "admin-b")
    rules = policies.rules_for("a.go.th", "Somchai@a.go.th")
    assert set(rules) == {SenderRule("a.go.th", ListKind.ALLOW, "partner.example"),
                          SenderRule("somchai@a.go.th", ListKind.BLOCK, "spam@partner.example")}
    assert listed(["spam@partner.example"], rules) is ListKind.BLOCK
    assert listed(["news@partner.example"], rules) is ListKind.ALLOW
    assert listed(["news@partner.example"], policies.rules_for("a.go.th", "malee@a.go.th")) is ListKind.BLOCK
    with pytest.raises(AlreadyExists):
        policies.add_rule(SenderRule("a.go.th", ListKind.ALLOW, "partner.example"), "operator")
    # the same pattern on the other list is another rule (a block wins when both match)
    policies.add_rule(SenderRule("a.go.th", ListKind.BLOCK, "partner.example"), "operator")
    assert [(r.rule.kind, r.rule.pattern, r.created_by) for r in policies.rules_of("a.go.th")] == [
        (ListKind.ALLOW, "partner.example", "admin-a"), (ListKind.BLOCK, "partner.example", "operator")]
    assert policies.remove_rule(SenderRule("a.go.th", ListKind.ALLOW, "partner.example"))
    assert not policies.remove_rule(SenderRule("a.go.th", ListKind.ALLOW, "partner.example"))
    assert policies.drop_owner("somchai@a.go.th") == 1 and policies.rules_of("somchai@a.go.th") == []
    policies.add_rule(SenderRule("malee@xa.go.th", ListKind.BLOCK, "x.example"), "operator")  # another domain
    policies.add_rule(SenderRule("b@xya.go.th", ListKind.BLOCK, "x.example"), "operator")
    assert policies.rule_owners("a.go.th") == {"a.go.th", "malee@a.go.th"}
    assert policies.rule_owners("xa.go.th") == {"malee@xa.go.th"}
    assert policies.rule_owners("x_a.go.th") == frozenset()  # "_" is no LIKE wildcard here
    assert policies.move_owner("malee@a.go.th", "malee.s@a.go.th") == 1
    assert [r.rule.owner for r in policies.rules_of("malee.s@a.go.th")] == ["malee.s@a.go.th"]
    policies.set_policy("a.go.th", SpamPolicy(junk=4.0), "operator")
    policies.drop_domain("a.go.th")
    assert policies.own_policy("a.go.th") is None and policies.rules_for("a.go.th", "malee.s@a.go.th") == ()
    assert {r.owner for r in policies.rules_for("b.go.th", "malee@xa.go.th")} == {"b.go.th", "malee@xa.go.th"}


def test_counts_add_up_per_hour_and_only_the_asked_window_is_read(policies: SpamPolicies) -> None:
    now = datetime.now(UTC)
    policies.record("a.go.th", "reject")
    policies.record("A.go.th", "reject", 2)
    policies.record("a.go.th", "virus")
    policies.record("b.go.th", "junk", 5)
    policies.record("a.go.th", "reject", 100, at=now - timedelta(hours=30))  # outside the last 24 hours
    since = now - timedelta(hours=23)
    assert policies.counts(None, since) == {"a.go.th": {"reject": 3, "virus": 1}, "b.go.th": {"junk": 5}}
    assert policies.counts(["b.go.th"], since) == {"b.go.th": {"junk": 5}}
    assert policies.counts([], since) == {}
    assert policies.counts(["a.go.th"], now - timedelta(hours=31)) == {"a.go.th": {"reject": 103, "virus": 1}}
    assert policies.prune_counts(now - timedelta(hours=24)) == 1
    assert policies.counts(["a.go.th"], now - timedelta(hours=31)) == {"a.go.th": {"reject": 3, "virus": 1}}


def test_the_first_count_of_an_hour_forgets_counts_older_than_two_days(url: str) -> None:
    store = Store.open(url)
    store.migrate()
    try:
        old = datetime(2026, 12, 1, 10, tzinfo=UTC)
        SpamPolicies(store).record("a.go.th", "junk", 5, at=old)  # another relay, days ago
        relay = SpamPolicies(store)
        relay.record("a.go.th", "junk", 1, at=old + timedelta(hours=48))  # 48 hours later: still kept
        assert relay.counts(["a.go.th"], old) == {"a.go.th": {"junk": 6}}
        relay.record("a.go.th", "junk", 1, at=old + timedelta(hours=49))
        assert relay.counts(["a.go.th"], old) == {"a.go.th": {"junk": 2}}
    finally:
        store.close()


def test_relays_sharing_the_store_lose_no_count(url: str) -> None:
    stores = [Store.open(url), Store.open(url)]
    stores[0].migrate()
    relays = [SpamPolicies(s) for s in stores]
    at = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)

    def count(relay: SpamPolicies) -> None:
        for _ in range(50):
            relay.record("a.go.th", "greylist", at=at)

    threads = [threading.Thread(target=count, args=(relays[n % 2],)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert relays[1].counts(["a.go.th"], at) == {"a.go.th": {"greylist": 200}}
    finally:
        for s in stores:
            s.close()
