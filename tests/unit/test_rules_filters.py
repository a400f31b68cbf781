"""The filter service's rules on in-memory fakes (tests/fakes): who reaches an account's
filters, and that the web's script never replaces or deactivates one it did not write.
The same against the real Dovecot with ManageSieve: tests/integration/test_filters.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mailgothai.core.sieve_filters import SCRIPT_NAME, check_rules, compile_rules
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.filters import Filters
from tests.fakes import OPERATOR, FakeWorld, admin_of, fake_backends
from tests.fakes.sieve import FakeSieveScripts

MOVE = [{"field": "subject", "contains": "ประชุม", "action": "move", "folder": "งาน"}]


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    w = fake_backends(tmp_path)
    w.backends = dataclasses.replace(w.backends, sieve_scripts=FakeSieveScripts())
    for domain in ("a.go.th", "b.go.th"):
        w.add_domain(domain)
        w.account(f"somchai@{domain}")
    return w


def scripts(world: FakeWorld) -> FakeSieveScripts:
    assert isinstance(world.backends.sieve_scripts, FakeSieveScripts)
    return world.backends.sieve_scripts


def test_the_user_themself_an_admin_of_the_domain_and_an_operator_reach_the_filters(world: FakeWorld) -> None:
    b = world.backends
    assert Filters.of_user(b, "somchai@a.go.th").save("somchai@a.go.th", MOVE).in_effect
    assert Filters(b, admin_of("a.go.th")).show("somchai@a.go.th").rules == check_rules(MOVE)
    assert Filters(b, OPERATOR).show("somchai@b.go.th").rules == ()
    with pytest.raises(NotFound):
        Filters(b, admin_of("a.go.th")).save("somchai@b.go.th", MOVE)
    with pytest.raises(NotFound):
        Filters.of_user(b, "somchai@a.go.th").show("somchai@b.go.th")
    assert scripts(world).list("somchai@b.go.th") == []
    assert [(e.action, e.actor, e.origin) for e in world.audit.entries if e.action == "account.filters"] == [
        ("account.filters", "somchai@a.go.th", "web-self")]


def test_the_users_own_active_script_is_never_replaced_or_deactivated(world: FakeWorld) -> None:
    user, fake = "somchai@a.go.th", scripts(world)
    fake.put(user, "mine", "keep;\n")
    fake.activate(user, "mine")
    state = Filters.of_user(world.backends, user).save(user, MOVE)
    assert (state.active, state.in_effect, fake.get(user, "mine")) == ("mine", False, "keep;\n")
    assert Filters.of_user(world.backends, user).save(user, MOVE, use_instead_of_own=True).in_effect
    assert fake.get(user, "mine") == "keep;\n"  # kept, only no longer active


def test_a_hand_edited_web_script_is_refused_and_left_as_it_is(world: FakeWorld) -> None:
    user, fake = "somchai@a.go.th", scripts(world)
    edited = compile_rules(check_rules(MOVE)).replace('"งาน"', '"Trash"')
    fake.put(user, SCRIPT_NAME, edited)
    fake.activate(user, SCRIPT_NAME)
    with pytest.raises(InvalidInput) as caught:
        Filters.of_user(world.backends, user).save(user, [])
    assert (caught.value.field, caught.value.code) == ("rules", "filters_edited_by_hand")
    assert fake.get(user, SCRIPT_NAME) == edited
    assert Filters.of_user(world.backends, user).show(user).edited_by_hand


def test_bad_rules_store_nothing(world: FakeWorld) -> None:
    user = "somchai@a.go.th"
    with pytest.raises(InvalidInput) as caught:
        Filters.of_user(world.backends, user).save(user, [*MOVE, {"field": "subject", "contains": "x",
                                                                 "action": "forward", "address": user}])
    assert (caught.value.field, caught.value.code) == ("rules[1].address", "forward_to_itself")
    assert scripts(world).list(user) == [] and not [e for e in world.audit.entries if e.action == "account.filters"]
