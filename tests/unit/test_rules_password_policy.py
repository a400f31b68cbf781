"""Password policies on the fakes (services/password_policy.py over
tests/fakes/password_policy.py): who may set the floor and which domain's policy, a domain
admin held to the floor field by field, an audit record for each change and none for a
refusal; and the policy applied where a mail user's password is set through the services
(account create and set-password, generated ones, the self-service change). The store is
tested on SQLite and PostgreSQL (tests/unit/test_store_password_policy.py)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from mailgothai.core.password_policy import CharClass, PasswordPolicy, Person, problems
from mailgothai.errors import InvalidInput, NotFound, PermissionDenied
from mailgothai.services.accounts import AccountService
from mailgothai.services.password_policy import PasswordPolicyService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.selfservice import SelfService
from mailgothai.services.usage import UsageRefresher
from tests.fakes import OPERATOR, PASSWORD, FakeWorld, admin_of, fake_backends
from tests.fakes.password_policy import FakePasswordPolicies

MINE, THEIRS = "mine.test", "theirs.test"
ADMIN = admin_of(MINE)
SOMCHAI = f"somchai@{MINE}"


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    world = fake_backends(tmp_path)
    for name in (MINE, THEIRS):
        world.add_domain(name)
    world.account(SOMCHAI, given_name="Somchai", surname="Jaidee")
    world.forget_history()
    return world


def store(world: FakeWorld) -> FakePasswordPolicies:
    return cast(FakePasswordPolicies, world.backends.password_policies)


def refused(call: object, *args: object, **kwargs: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_a_domain_follows_the_floor_until_its_admin_tightens_it(world: FakeWorld) -> None:
    shown = PasswordPolicyService(world.backends, ADMIN).show(MINE)
    assert shown.policy == PasswordPolicy() and not shown.own and shown.floor == PasswordPolicy()
    after = PasswordPolicyService(world.backends, ADMIN).set(
        MINE, {"min_length": "12", "required_classes": "lower,upper,digit,other", "min_strength": 3})
    assert after.own and after.policy.min_length == 12 and after.policy.required == frozenset(CharClass)
    assert after.changed is not None and after.changed.by == ADMIN.login
    assert store(world).effective(MINE).min_length == 12 and store(world).effective(THEIRS) == PasswordPolicy()
    [entry] = world.audit.entries
    assert (entry.action, entry.object_id, entry.domain, entry.actor) == (
        "password.policy.set", MINE, MINE, ADMIN.login)
    assert entry.before is None and entry.after is not None and entry.after["min_length"] == 12


def test_a_domain_admin_cannot_loosen_below_the_floor_field_by_field(world: FakeWorld) -> None:
    PasswordPolicyService(world.backends, OPERATOR).set_floor({"min_length": 10, "min_strength": 3})
    world.forget_history()
    service = PasswordPolicyService(world.backends, ADMIN)
    for changes, field in (({"min_length": 9}, "min_length"), ({"required_classes": "lower"}, "required_classes"),
                           ({"forbid_personal": "no"}, "forbid_personal"), ({"min_strength": 2}, "min_strength")):
        error = refused(service.set, MINE, changes)
        assert error.field == field
    assert str(refused(service.set, MINE, {"min_length": 9}).why) == "cannot be below the operator's minimum, 10"
    assert store(world).own_policy(MINE) is None and world.audit.entries == []


def test_a_domain_admin_reaches_neither_another_domain_nor_the_floor(world: FakeWorld) -> None:
    service = PasswordPolicyService(world.backends, ADMIN)
    with pytest.raises(NotFound):
        service.show(THEIRS)
    with pytest.raises(NotFound):
        service.set(THEIRS, {"min_length": 20})
    with pytest.raises(NotFound):
        service.reset(THEIRS)
    with pytest.raises(PermissionDenied):
        service.set_floor({"min_length": 6 + 2})
    assert service.floor().policy == PasswordPolicy()  # may read it
    assert store(world).policies == {} and store(world).floor_row is None and world.audit.entries == []


def test_the_operator_sets_the_floor_and_a_reset_domain_follows_it(world: FakeWorld) -> None:
    operator = PasswordPolicyService(world.backends, OPERATOR)
    operator.set(MINE, {"min_length": 14})
    floor = operator.set_floor({"min_length": 16, "required_classes": ["lower", "digit"], "min_strength": 1})
    assert floor.policy.min_length == 16 and floor.changed is not None and floor.changed.by == OPERATOR.login
    assert operator.show(MINE).policy.min_length == 16  # the floor raised later wins
    reset = operator.reset(MINE)
    assert not reset.own and reset.policy == floor.policy
    assert [e.action for e in world.audit.entries] == ["password.policy.set", "password.floor.set",
                                                        "password.policy.reset"]
    error = refused(operator.set_floor, {"min_length": 7})
    assert (error.field, error.why.code) == ("min_length", "out_of_range")


def test_account_create_and_set_password_refuse_a_weak_password_with_its_reason(world: FakeWorld) -> None:
    accounts = AccountService(world.backends, ADMIN)
    error = refused(accounts.add, f"malee@{MINE}", PasswordInput(plain="password1"))
    assert (error.field, str(error.why)) == ("password", "needs an upper-case letter")
    error = refused(accounts.add, f"malee@{MINE}", PasswordInput(plain="Malee-2026-x"), given_name="Malee")
    assert (error.field, error.why.code) == ("password", "password_personal")
    assert world.backends.accounts.find(f"malee@{MINE}") is None
    error = refused(accounts.set_password, SOMCHAI, PasswordInput(plain="Jaidee-42-Q"))
    assert (error.field, str(error.why)) == ("password", "must not contain the account's address or name ('jaidee')")
    error = refused(accounts.set_password, SOMCHAI, PasswordInput(plain="Password1"))
    assert error.why.code == "password_too_guessable"
    assert world.backends.accounts.check_password(SOMCHAI, PASSWORD)  # unchanged
    assert world.audit.entries == []


def test_a_domain_s_own_policy_is_the_one_applied(world: FakeWorld) -> None:
    PasswordPolicyService(world.backends, ADMIN).set(MINE, {"min_length": 20})
    accounts = AccountService(world.backends, ADMIN)
    error = refused(accounts.set_password, SOMCHAI, PasswordInput(plain="Tr4vel-lamp-Oboe"))
    assert str(error.why) == "shorter than 20 characters"
    accounts.set_password(SOMCHAI, PasswordInput(plain="Tr4vel-lamp-Oboe-river"))
    AccountService(world.backends, OPERATOR).add(f"malee@{THEIRS}", PasswordInput(plain="Tr4vel-lamp-Oboe"))


def test_generated_passwords_meet_the_domain_s_policy(world: FakeWorld) -> None:
    PasswordPolicyService(world.backends, ADMIN).set(
        MINE, {"min_length": 40, "required_classes": "lower,upper,digit,other", "min_strength": 4})
    accounts = AccountService(world.backends, ADMIN)
    new = accounts.add(f"malee@{MINE}", PasswordInput(generate=True), given_name="Malee")
    assert new.generated_password is not None and len(new.generated_password) >= 40
    policy = store(world).effective(MINE)
    assert problems(new.generated_password, policy, Person(f"malee@{MINE}", "Malee")) == []
    again = accounts.set_password(SOMCHAI, PasswordInput(generate=True))
    assert again is not None and problems(again, policy, Person(SOMCHAI, "Somchai", "Jaidee")) == []


def test_a_stored_hash_cannot_be_checked_and_is_taken(world: FakeWorld) -> None:
    from mailgothai.core.passwords import make_ssha

    AccountService(world.backends, ADMIN).set_password(SOMCHAI, PasswordInput(stored_hash=make_ssha("weak")))
    assert world.backends.accounts.check_password(SOMCHAI, "weak")


def test_the_self_service_change_refuses_a_weak_password_with_its_reason(world: FakeWorld,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # The current password is checked by services/second_factor.py (the login budget in SQL,
    # the directory's application connection), which the fakes do not have: the fake directory checks it.
    monkeypatch.setattr("mailgothai.services.selfservice.check_current_password",
                        lambda backends, email, password: backends.accounts.check_password(email, password))
    me = SelfService(world.backends, SOMCHAI, cast(UsageRefresher, None))
    error = refused(me.change_password, PASSWORD, "somchai-Pass-1", "somchai-Pass-1")
    assert (error.field, error.why.code) == ("new_password", "password_personal")
    error = refused(me.change_password, PASSWORD, "Abc1", "Abc1")
    assert (error.field, str(error.why)) == ("new_password", "shorter than 8 characters")
    assert world.audit.entries == []
    me.change_password(PASSWORD, "Tr4vel-lamp-Oboe", "Tr4vel-lamp-Oboe")
    assert world.backends.accounts.check_password(SOMCHAI, "Tr4vel-lamp-Oboe")


def test_a_deleted_domain_s_policy_goes_with_it(world: FakeWorld) -> None:
    from mailgothai.services.domains import DomainService

    PasswordPolicyService(world.backends, OPERATOR).set(THEIRS, {"min_length": 30})
    DomainService(world.backends, OPERATOR).delete(THEIRS)
    assert store(world).own_policy(THEIRS) is None
    world.add_domain(THEIRS)  # the name added again starts from the floor
    assert PasswordPolicyService(world.backends, OPERATOR).show(THEIRS).policy == PasswordPolicy()
