"""The password policy tables (store/password_policy.py, migration 0009) on a real
database: SQLite here, PostgreSQL when the suite runs the `sql` tests there. The floor,
a domain's own policy, what `effective` answers, and its cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.core.password_policy import CharClass, PasswordPolicy
from mailgothai.store.db import Store
from mailgothai.store.password_policy import PasswordPolicies
from tests import pgcluster

pytestmark = pytest.mark.sql

STRICT = PasswordPolicy(min_length=14, required=frozenset(CharClass), min_classes=4, forbid_personal=True,
                        min_strength=3)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = pgcluster.cluster().new_database() if pgcluster.wanted() else f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = Store.open(url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def test_the_built_in_floor_until_the_operator_sets_one(store: Store) -> None:
    policies = PasswordPolicies(store)
    assert policies.floor() == (PasswordPolicy(), None)
    assert policies.effective("a.go.th") == PasswordPolicy()
    floor = PasswordPolicy(min_length=10, min_strength=3)
    policies.set_floor(floor, "operator")
    got, changed = policies.floor()
    assert got == floor and changed is not None and changed.by == "operator"
    assert policies.effective("a.go.th") == floor  # told at once in this process


def test_a_domain_s_own_policy_round_trips_and_is_checked_against_the_floor_when_read(store: Store) -> None:
    policies = PasswordPolicies(store)
    policies.set_policy("A.go.th", STRICT, "admin-a")
    own = policies.own_policy("a.go.th")
    assert own is not None and own[0] == STRICT and own[1].by == "admin-a"
    assert policies.effective("a.go.th") == STRICT
    assert policies.own_policy("b.go.th") is None
    policies.set_floor(PasswordPolicy(min_length=20), "operator")  # raised above the domain's own later
    assert policies.effective("a.go.th").min_length == 20
    assert policies.drop_policy("a.go.th") is True and policies.drop_policy("a.go.th") is False
    assert policies.effective("a.go.th") == PasswordPolicy(min_length=20)


def test_another_process_s_change_is_seen_after_the_cache_s_lifetime(store: Store) -> None:
    web = PasswordPolicies(store, cache_seconds=3600)
    cli = PasswordPolicies(store)
    assert web.effective("a.go.th") == PasswordPolicy()
    cli.set_policy("a.go.th", STRICT, "operator")
    assert web.effective("a.go.th") == PasswordPolicy()  # still its cached answer
    assert PasswordPolicies(store, cache_seconds=0).effective("a.go.th") == STRICT
