"""The audit log's time filters (store/audit.py) on a real database: SQLite here,
PostgreSQL when the suite runs the `sql` tests there. A bound given in another zone
(Bangkok, +07:00) means the same instant as in UTC: SQLite keeps `at` as UTC without its
zone, so a bound compared as written was off by its offset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailgothai.services.audit import parse_filter
from mailgothai.store.audit import AuditLog
from mailgothai.store.db import Store
from tests import pgcluster

pytestmark = pytest.mark.sql

BANGKOK = timezone(timedelta(hours=7))


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    url = pgcluster.cluster().new_database() if pgcluster.wanted() else f"sqlite:///{tmp_path / 'store.sqlite3'}"
    store = Store.open(url)
    store.migrate()
    try:
        audit = AuditLog(store)
        audit.record(actor="a", origin="test", action="x", object_type="t", object_id="1", domain="d.go.th")
        yield audit
    finally:
        store.close()


def test_bounds_in_bangkok_time_mean_the_same_instant(log: AuditLog) -> None:
    now = datetime.now(UTC)
    for zone in (UTC, BANGKOK, timezone(timedelta(hours=-5))):
        assert len(log.query(since=(now - timedelta(hours=1)).astimezone(zone))) == 1, zone
        assert len(log.query(until=(now + timedelta(hours=1)).astimezone(zone))) == 1, zone
        assert log.query(since=(now + timedelta(hours=1)).astimezone(zone)) == [], zone
        assert log.query(until=(now - timedelta(hours=1)).astimezone(zone)) == [], zone
        assert log.count(since=(now - timedelta(hours=1)).astimezone(zone)) == 1, zone


def test_a_filter_typed_in_bangkok_time_finds_the_record(log: AuditLog) -> None:
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).astimezone(BANGKOK)
    flt = parse_filter(since=hour_ago.isoformat(timespec="seconds"))
    assert len(log.query(since=flt.since, until=flt.until)) == 1
    hour_on = (datetime.now(UTC) + timedelta(hours=1)).astimezone(BANGKOK)
    flt = parse_filter(until=hour_on.isoformat(timespec="seconds"))
    assert len(log.query(since=flt.since, until=flt.until)) == 1
