"""An app password's last use (services/app_use.py into store/second_factor.py) is the
newest one, whichever process reports it: a use over SMTP in the same second as the IMAP
one before it is the last use (times were cut to the second, and an equal time kept the
older report: "last used: IMAP" after an SMTP login; seen as a CI failure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mailgothai.core.app_passwords import AppPassword
from mailgothai.services.app_use import AppUseRecorder
from mailgothai.store.db import Store
from mailgothai.store.second_factor import AppPasswordUses

LOGIN = "somchai@agency.go.th"
PHONE = AppPassword("0a1b2c3d", "phone", datetime(2026, 12, 1, tzinfo=UTC), "deadbeef", "{ARGON2}x")


def test_a_later_use_in_the_same_second_is_the_last_use(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    try:
        uses = AppPasswordUses(store)
        now = [1_764_900_000.2]
        imap = AppUseRecorder(uses, lambda logins: {LOGIN: [PHONE]}, clock=lambda: now[0])  # the policy service
        smtp = AppUseRecorder(uses, lambda logins: {LOGIN: [PHONE]}, clock=lambda: now[0])  # the relay
        imap.record(LOGIN, PHONE.fingerprint, "imap", "192.0.2.1")
        assert imap.flush() == 1
        now[0] += 0.5  # the same second
        smtp.record(LOGIN, PHONE.fingerprint, "smtp", "192.0.2.1")
        assert smtp.flush() == 1
        assert uses.of(LOGIN)[PHONE.id][1] == "smtp"
        now[0] -= 0.4  # an older report arriving late never replaces a newer one
        imap.record(LOGIN, PHONE.fingerprint, "imap", "192.0.2.9")
        imap.flush()
        assert uses.of(LOGIN)[PHONE.id][1:] == ("smtp", "192.0.2.1")
    finally:
        store.close()
