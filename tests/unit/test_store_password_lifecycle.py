"""The password lifecycle tables (store/password_lifecycle.py, migration 0010) on a real
database: SQLite here, PostgreSQL when the suite runs the `sql` tests there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.password_lifecycle import Lifecycle
from mailgothai.store.db import Store
from mailgothai.store.password_lifecycle import PasswordLifecycles
from tests import pgcluster

pytestmark = pytest.mark.sql
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = pgcluster.cluster().new_database() if pgcluster.wanted() else f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = Store.open(url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def test_settings_default_until_set_and_only_expiring_domains_listed(store: Store) -> None:
    lifecycles = PasswordLifecycles(store)
    assert lifecycles.get("a.go.th") == (Lifecycle(), None)
    lifecycles.set("A.go.th", Lifecycle(must_change_on_create=True, max_age_days=90, warn_days=10), NOW, "op")
    lifecycles.set("b.go.th", Lifecycle(must_change_generated=False), NOW, "op")
    got, changed = lifecycles.get("a.go.th")
    assert got == Lifecycle(must_change_on_create=True, max_age_days=90, warn_days=10)
    assert changed is not None and changed.by == "op" and changed.at == NOW
    assert lifecycles.with_expiry() == {"a.go.th": got}
    lifecycles.drop_domain("a.go.th")
    assert lifecycles.with_expiry() == {}


def test_a_warning_is_claimed_once_per_expiry_time(store: Store) -> None:
    lifecycles = PasswordLifecycles(store)
    expires = NOW + timedelta(days=7)
    assert lifecycles.claim_warning("U@a.go.th", expires, NOW)
    assert not lifecycles.claim_warning("u@a.go.th", expires, NOW)
    assert lifecycles.claim_warning("u@a.go.th", expires + timedelta(days=90), NOW)  # a new password's expiry
    lifecycles.release_warning("u@a.go.th", expires)
    assert lifecycles.claim_warning("u@a.go.th", expires, NOW)
    assert lifecycles.forget_warnings(expires + timedelta(days=1)) == 1
