"""The TOTP replay guard in the store (store/totp.py): a time step is used once, and never
one older than the last used, decided in one conditional update (two logins racing with
one code cannot both get in)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mailgothai.store.db import Store
from mailgothai.store.totp import TotpRecords


def test_a_time_step_is_used_once_and_never_an_older_one(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    try:
        records = TotpRecords(store)
        assert records.put_pending("somchai", b"sealed", datetime(2026, 1, 1, tzinfo=UTC))
        assert records.use_step("somchai", 100, enable=True)
        record = records.get("somchai")
        assert record is not None and record.enabled and record.last_step == 100
        assert not records.use_step("somchai", 100)  # the same code again
        assert not records.use_step("somchai", 99)  # an older one
        assert records.use_step("somchai", 101)
        assert not records.put_pending("somchai", b"other", datetime(2026, 1, 2, tzinfo=UTC))  # one is in force
        record = records.get("somchai")
        assert record is not None and record.secret_sealed == b"sealed"
        assert not records.use_step("nobody", 1)
        assert records.remove("somchai") and records.get("somchai") is None
    finally:
        store.close()
