"""The rules of a domain's catch-all and alias domains (issue 17), on the fakes: who may
change what, which addresses and names are refused (naming the field), and that a refusal
leaves everything as it was, with no audit record. What the relay and Dovecot do with
them is tested against the real servers (tests/relay/test_catch_all.py,
tests/relay/test_alias_domains.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailgothai.errors import InvalidInput, NotFound, PermissionDenied
from mailgothai.services.aliases import AliasService
from mailgothai.services.domain_routing import DomainRoutingService, login_names
from mailgothai.services.domains import DomainService
from tests.fakes import OPERATOR, FakeWorld, admin_of, fake_backends

MINE, ALSO_MINE, THEIRS = "mine.test", "also-mine.test", "theirs.test"
ADMIN = admin_of(MINE, ALSO_MINE)


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    world = fake_backends(tmp_path)
    for name in (MINE, ALSO_MINE, THEIRS):
        world.add_domain(name)
        world.account(f"info@{name}")
    AliasService(world.backends, OPERATOR).add(f"team@{MINE}", f"info@{MINE}")
    world.forget_history()
    return world


def routing(world: FakeWorld, actor: Any = ADMIN) -> DomainRoutingService:
    return DomainRoutingService(world.backends, actor)


def test_the_domain_admin_points_the_catch_all_at_an_account_or_alias_it_administers(world: FakeWorld) -> None:
    assert routing(world).set_catch_all(MINE, f"INFO@{MINE}").catch_all == f"info@{MINE}"
    assert routing(world).set_catch_all(MINE, f"team@{MINE}").catch_all == f"team@{MINE}"
    assert routing(world).set_catch_all(MINE, f"info@{ALSO_MINE}").catch_all == f"info@{ALSO_MINE}"
    assert routing(world).set_catch_all(MINE, None).catch_all == ""
    assert world.audit.actions() == ["domain.catch_all.set"] * 3 + ["domain.catch_all.off"]
    assert routing(world).set_catch_all(MINE, "").catch_all == ""  # already off: nothing written
    assert len(world.audit.entries) == 4


REFUSED_CATCH_ALL: dict[str, tuple[str, str]] = {
    "an outside address": ("someone@gmail.com", "catch_all_outside"),
    "another agency's account": (f"info@{THEIRS}", "catch_all_outside"),
    "no such address": (f"nobody@{MINE}", "catch_all_unknown"),
    "not an address": ("info-at-mine", "at_missing"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_CATCH_ALL))
def test_a_catch_all_outside_the_domain_admins_reach_is_refused_and_nothing_stored(world: FakeWorld,
                                                                                   case: str) -> None:
    routing(world).set_catch_all(MINE, f"info@{MINE}")
    world.forget_history()
    address, code = REFUSED_CATCH_ALL[case]
    with pytest.raises(InvalidInput) as refused:
        routing(world).set_catch_all(MINE, address)
    assert (refused.value.field, refused.value.code) == ("catch_all", code)
    assert world.backends.domains.get(MINE).catch_all == f"info@{MINE}"
    assert world.audit.entries == []


def test_an_operator_may_point_a_catch_all_at_any_hosted_domain_never_outside(world: FakeWorld) -> None:
    assert routing(world, OPERATOR).set_catch_all(MINE, f"info@{THEIRS}").catch_all == f"info@{THEIRS}"
    with pytest.raises(InvalidInput):
        routing(world, OPERATOR).set_catch_all(MINE, "someone@gmail.com")


def test_a_domain_admin_cannot_touch_another_domains_catch_all(world: FakeWorld) -> None:
    with pytest.raises(NotFound):
        routing(world).set_catch_all(THEIRS, f"info@{MINE}")
    assert world.backends.domains.get(THEIRS).catch_all == "" and world.audit.entries == []


def test_operators_add_and_remove_alias_domains_and_its_admins_see_them(world: FakeWorld) -> None:
    added = routing(world, OPERATOR).add_alias_domain("New-Name.TEST", MINE)
    assert (added.name, added.target) == ("new-name.test", MINE)
    assert [a.name for a in routing(world).alias_domains(MINE)] == ["new-name.test"]
    assert [a.name for a in routing(world).alias_domains()] == ["new-name.test"]
    assert routing(world, admin_of(THEIRS)).alias_domains() == []
    with pytest.raises(NotFound):
        routing(world, admin_of(THEIRS)).alias_domains(MINE)
    assert login_names(world.backends, [f"info@{MINE}"]) == [f"info@{MINE}", "info@new-name.test"]
    with pytest.raises(PermissionDenied):
        routing(world).remove_alias_domain("new-name.test")
    routing(world, OPERATOR).remove_alias_domain("new-name.test")
    assert routing(world).alias_domains(MINE) == []
    assert world.audit.actions() == ["alias_domain.create", "alias_domain.delete"]


def _add(new: str, to: str) -> Callable[[FakeWorld], Any]:
    return lambda world: routing(world, OPERATOR).add_alias_domain(new, to)


REFUSED_ALIAS: dict[str, tuple[Callable[[FakeWorld], Any], str, str]] = {
    "a hosted domain": (_add(THEIRS, MINE), "alias_domain", "alias_domain_hosted"),
    "an alias domain already": (_add("taken.test", ALSO_MINE), "alias_domain", "alias_domain_taken"),
    "itself": (_add(MINE, MINE), "alias_domain", "alias_domain_itself"),
    "to an unknown domain": (_add("new.test", "unknown.test"), "to", "alias_domain_no_target"),
    "to an alias domain": (_add("new.test", "taken.test"), "to", "alias_domain_chain"),
    "a name that is no domain": (_add("not a domain", MINE), "alias_domain", "domain_space"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_ALIAS))
def test_a_bad_alias_domain_is_refused_naming_the_field_and_nothing_stored(world: FakeWorld, case: str) -> None:
    routing(world, OPERATOR).add_alias_domain("taken.test", MINE)
    world.forget_history()
    attempt, field, code = REFUSED_ALIAS[case]
    with pytest.raises(InvalidInput) as refused:
        attempt(world)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert [a.name for a in routing(world, OPERATOR).alias_domains()] == ["taken.test"]
    assert world.audit.entries == []


def test_a_domain_admin_may_not_add_an_alias_domain(world: FakeWorld) -> None:
    with pytest.raises(PermissionDenied):
        routing(world).add_alias_domain("grab.test", MINE)
    assert routing(world, OPERATOR).alias_domains() == [] and world.audit.entries == []


def test_an_alias_domains_name_cannot_become_a_domain_and_a_domain_goes_with_its_alias_domains_only_by_force(
        world: FakeWorld) -> None:
    routing(world, OPERATOR).add_alias_domain("renamed.test", ALSO_MINE)
    with pytest.raises(InvalidInput) as refused:
        DomainService(world.backends, OPERATOR).add("renamed.test")
    assert (refused.value.field, refused.value.code) == ("domain", "alias_domain_taken")
    with pytest.raises(InvalidInput):  # it holds info@ and an alias domain: only --force deletes them
        DomainService(world.backends, OPERATOR).delete(ALSO_MINE)
    assert [a.name for a in routing(world, OPERATOR).alias_domains()] == ["renamed.test"]
    DomainService(world.backends, OPERATOR).delete(ALSO_MINE, force=True)
    assert routing(world, OPERATOR).alias_domains() == []
    assert "alias_domain.delete" in world.audit.actions()
