"""Inbound protection settings on the fakes (services/spam_policy.py over
tests/fakes/spam.py): who may change which domain's policy and lists, the operator's
bounds for domain admins, every field checked by name, an audit record for each change and
none for a refusal, and the dashboard's counts of the last 24 hours per reachable domain.
The store itself is tested on SQLite and PostgreSQL (tests/unit/test_store_spam_policy.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from mailgothai.core.spam import ListKind, PolicyBounds, SenderRule, SpamPolicy
from mailgothai.core.spam_records import DomainCounts
from mailgothai.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from mailgothai.services.spam_policy import SpamPolicyService
from tests.fakes import OPERATOR, FakeWorld, admin_of, fake_backends
from tests.fakes.spam import FakeSpamPolicies

MINE, THEIRS = "mine.test", "theirs.test"
ADMIN = admin_of(MINE)


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    world = fake_backends(tmp_path)
    for name in (MINE, THEIRS):
        world.add_domain(name)
        world.account(f"somchai@{name}")
    world.forget_history()
    return world


def store(world: FakeWorld) -> FakeSpamPolicies:
    return cast(FakeSpamPolicies, world.backends.spam)


def as_operator(world: FakeWorld) -> SpamPolicyService:
    return SpamPolicyService(world.backends, OPERATOR)


def as_admin(world: FakeWorld) -> SpamPolicyService:
    return SpamPolicyService(world.backends, ADMIN)


def test_a_domain_shows_the_default_until_it_gets_its_own(world: FakeWorld) -> None:
    shown = as_admin(world).show(MINE)
    assert shown.policy == SpamPolicy() and not shown.own and shown.bounds == PolicyBounds()
    assert as_operator(world).show(MINE).bounds is None  # the operator is not bound
    after = as_admin(world).set(MINE, {"junk_score": "5", "reject_score": "off", "greylisting": "no"})
    assert after.own and after.policy == SpamPolicy(junk=5.0, reject=None, greylisting=False)
    assert after.changed is not None and after.changed.by == ADMIN.login
    assert store(world).policy_of(MINE) == after.policy  # what the relay reads
    assert store(world).policy_of(THEIRS) == SpamPolicy()
    [entry] = world.audit.entries
    assert (entry.action, entry.object_id, entry.domain, entry.actor) == ("spam.policy.set", MINE, MINE, ADMIN.login)
    assert entry.before is None and entry.after["reject_score"] is None and entry.after["junk_score"] == 5.0
    assert not as_admin(world).reset(MINE).own and store(world).policy_of(MINE) == SpamPolicy()
    assert world.audit.actions()[-1] == "spam.policy.reset"


def test_a_domain_admin_keeps_within_the_operators_bounds_the_operator_does_not(world: FakeWorld) -> None:
    as_operator(world).set_defaults({"lowest_score": "4", "highest_score": "20", "longest_quarantine_days": "14",
                                     "may_disable_greylisting": "false", "quarantine_days": "7"})
    for field, value in (("junk_score", "3"), ("reject_score", "25"), ("quarantine_days", "30"),
                         ("greylisting", "off")):
        with pytest.raises(InvalidInput) as refused:
            as_admin(world).set(MINE, {field: value})
        assert refused.value.field == field
    assert store(world).own_policy(MINE) is None
    assert as_admin(world).set(MINE, {"junk_score": "4", "quarantine_score": "off", "reject_score": "20"}).own
    operator_set = as_operator(world).set(THEIRS, {"junk_score": "1", "reject_score": "200", "greylisting": False,
                                                   "quarantine_days": 60})
    assert operator_set.policy == SpamPolicy(junk=1.0, quarantine=10.0, reject=200.0, greylisting=False,
                                             quarantine_days=60)


@pytest.mark.parametrize(("changes", "field"), [
    ({"junk_score": "lots"}, "junk_score"),
    ({"quarantine_score": "nan"}, "quarantine_score"),
    ({"reject_score": True}, "reject_score"),
    ({"junk_score": "12", "quarantine_score": "11"}, "quarantine_score"),  # must be above junk
    ({"quarantine_days": "0"}, "quarantine_days"),
    ({"quarantine_days": "2.5"}, "quarantine_days"),
    ({"greylisting": "maybe"}, "greylisting"),
    ({"spam_score": "5"}, "spam_score"),
])
def test_each_bad_field_is_named_and_nothing_is_stored(world: FakeWorld, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        as_operator(world).set(MINE, changes)
    assert refused.value.field == field
    assert store(world).own_policy(MINE) is None and world.audit.entries == []


@pytest.mark.parametrize(("changes", "field"), [
    ({"lowest_score": "30", "highest_score": "20"}, "highest_score"),
    ({"highest_score": "off"}, "highest_score"),
    ({"lowest_score": "-500"}, "lowest_score"),
    ({"longest_quarantine_days": "400"}, "longest_quarantine_days"),
    ({"junk_score": "2"}, "junk_score"),  # the default itself must be within the bounds (lowest 3)
])
def test_defaults_and_bounds_are_checked(world: FakeWorld, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        as_operator(world).set_defaults(changes)
    assert refused.value.field == field and store(world).default is None


def test_only_the_operator_reads_or_sets_the_defaults(world: FakeWorld) -> None:
    with pytest.raises(PermissionDenied):
        as_admin(world).defaults()
    with pytest.raises(PermissionDenied):
        as_admin(world).set_defaults({"junk_score": "5"})
    changed = as_operator(world).set_defaults({"junk_score": "5", "may_disable_greylisting": "0"})
    assert changed.policy.junk == 5.0 and not changed.bounds.may_disable_greylisting
    assert store(world).policy_of(THEIRS).junk == 5.0  # a domain without its own follows it
    assert world.audit.actions() == ["spam.defaults.set"]


OTHER_DOMAIN: dict[str, Callable[[SpamPolicyService], Any]] = {
    "show the policy": lambda s: s.show(THEIRS),
    "set the policy": lambda s: s.set(THEIRS, {"junk_score": "5"}),
    "reset the policy": lambda s: s.reset(THEIRS),
    "list the domain's rules": lambda s: s.rules(THEIRS),
    "add to the domain's list": lambda s: s.add_rule(THEIRS, "allow", "partner.example"),
    "remove from the domain's list": lambda s: s.remove_rule(THEIRS, "block", "spam.example"),
    "list a user's rules": lambda s: s.rules(f"somchai@{THEIRS}"),
    "add to a user's list": lambda s: s.add_rule(f"somchai@{THEIRS}", "block", "spam.example"),
}


@pytest.mark.parametrize("action", OTHER_DOMAIN)
def test_another_domain_is_not_found_for_a_domain_admin(world: FakeWorld, action: str) -> None:
    store(world).add_rule(SenderRule(THEIRS, ListKind.BLOCK, "spam.example"), "operator")
    with pytest.raises(NotFound):
        OTHER_DOMAIN[action](as_admin(world))
    assert store(world).own_policy(THEIRS) is None and len(store(world).rules) == 1
    assert world.audit.entries == []


def test_lists_of_a_domain_and_of_a_user(world: FakeWorld) -> None:
    admin = as_admin(world)
    admin.add_rule(MINE, "allow", " Partner.EXAMPLE ")
    admin.add_rule(f"Somchai@{MINE}", "BLOCK", "Spam@Bad.Example")
    assert [(r.rule.kind, r.rule.pattern) for r in admin.rules(MINE)] == [(ListKind.ALLOW, "partner.example")]
    assert store(world).rules_for(MINE, f"somchai@{MINE}") == (
        SenderRule(f"somchai@{MINE}", ListKind.BLOCK, "spam@bad.example"),
        SenderRule(MINE, ListKind.ALLOW, "partner.example"))
    with pytest.raises(AlreadyExists):
        admin.add_rule(MINE, "allow", "partner.example")
    admin.remove_rule(MINE, "allow", "partner.example")
    with pytest.raises(NotFound):
        admin.remove_rule(MINE, "allow", "partner.example")
    assert world.audit.actions() == ["spam.rule.add", "spam.rule.add", "spam.rule.remove"]
    assert world.audit.entries[1].object_id == f"somchai@{MINE}" and world.audit.entries[1].domain == MINE
    with pytest.raises(NotFound):  # no such account in the admin's domain
        admin.add_rule(f"nobody@{MINE}", "allow", "partner.example")


@pytest.mark.parametrize(("kind", "pattern", "field"), [
    ("trust", "partner.example", "kind"),
    ("allow", "", "pattern"),
    ("allow", "partner", "pattern"),  # one label: not a domain
    ("allow", "a@b@partner.example", "pattern"),
    ("allow", "bad space.example", "pattern"),
    ("block", 5, "pattern"),
])
def test_a_bad_rule_names_its_field(world: FakeWorld, kind: str, pattern: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        as_admin(world).add_rule(MINE, kind, pattern)
    assert refused.value.field == field and store(world).rules == []


def test_a_user_reaches_only_their_own_lists(world: FakeWorld) -> None:
    me = SpamPolicyService.of_user(world.backends, f"somchai@{MINE}")
    me.add_rule(f"somchai@{MINE}", "block", "ex-boss@elsewhere.example")
    assert [r.rule.pattern for r in me.rules(f"somchai@{MINE}")] == ["ex-boss@elsewhere.example"]
    world.account(f"malee@{MINE}")
    for action in (lambda: me.rules(f"malee@{MINE}"), lambda: me.add_rule(MINE, "allow", "x.example"),
                   lambda: me.show(MINE), lambda: me.set(MINE, {"junk_score": "1"}), lambda: me.counts()):
        with pytest.raises(NotFound):
            action()
    [added] = [e for e in world.audit.entries if e.action.startswith("spam.")]
    assert added.action == "spam.rule.add" and added.actor == f"somchai@{MINE}"


def test_too_many_rules_are_refused(world: FakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailgothai.services.spam_policy.MAX_RULES", 2)
    admin = as_admin(world)
    admin.add_rule(MINE, "allow", "a.example")
    admin.add_rule(MINE, "block", "b.example")
    with pytest.raises(InvalidInput) as refused:
        admin.add_rule(MINE, "block", "c.example")
    assert refused.value.field == "pattern" and len(admin.rules(MINE)) == 2


def test_counts_of_the_last_24_hours_per_reachable_domain(world: FakeWorld) -> None:
    now = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)
    relay = store(world)
    for outcome, n in (("reject", 2), ("dmarc_reject", 1), ("blocked", 1), ("quarantine", 3), ("junk", 4),
                       ("greylist", 5), ("virus", 6), ("deliver", 100)):
        relay.record(MINE, outcome, n, at=now)
    relay.record(MINE, "virus", 50, at=now - timedelta(hours=24))  # the 25th hour back: not counted
    relay.record(MINE, "virus", 1, at=now - timedelta(hours=23))
    relay.record(THEIRS, "junk", 9, at=now)
    assert as_admin(world).counts(now) == [DomainCounts(MINE, rejected=4, quarantined=3, junk=4, greylisted=5,
                                                         viruses=7)]
    assert [c.domain for c in as_operator(world).counts(now)] == [MINE, THEIRS]
    assert SpamPolicyService(world.backends, admin_of("quiet.test")).counts(now) == [DomainCounts("quiet.test")]


def test_lists_follow_a_renamed_account_and_go_with_a_deleted_one_or_domain(world: FakeWorld) -> None:
    from mailgothai.services.domains import DomainService
    from mailgothai.services.lifecycle import LifecycleService

    operator = as_operator(world)
    operator.add_rule(f"somchai@{MINE}", "block", "ex-boss@elsewhere.example")
    LifecycleService(world.backends, OPERATOR).rename(f"somchai@{MINE}", f"somchai.j@{MINE}")
    assert store(world).rules_for(MINE, f"somchai.j@{MINE}") == (
        SenderRule(f"somchai.j@{MINE}", ListKind.BLOCK, "ex-boss@elsewhere.example"),)
    assert store(world).rules_for(MINE, f"somchai@{MINE}") == ()
    LifecycleService(world.backends, OPERATOR).retire(world.backends.accounts.get(f"somchai.j@{MINE}"), None)
    world.account(f"somchai.j@{MINE}")  # a new person on the address inherits no list
    assert store(world).rules_for(MINE, f"somchai.j@{MINE}") == ()

    operator.set(THEIRS, {"junk_score": "4"})
    operator.add_rule(THEIRS, "allow", "partner.example")
    operator.add_rule(f"somchai@{THEIRS}", "block", "x.example")
    operator.add_rule(MINE, "block", "x.example")
    DomainService(world.backends, OPERATOR).delete(THEIRS, force=True)
    assert store(world).own_policy(THEIRS) is None
    assert [r.rule.owner for r in store(world).rules] == [MINE]  # the other domain's stay
