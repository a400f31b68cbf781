"""Many LDAP transactions in a row against a slapd of their own (directory/batch.py): slapd
2.5.13 died (a segfault) when an End Transaction reached it while the threads that had
answered the transaction's adds were still leaving them; batch.add_all waits
SETTLE_BEFORE_END first. Without that pause, runs of 600 transactions killed their slapd
one time in three (and 2,000 in a row did every time), on this machine under load; with it,
none did. Its own stack, so the session's slapd is not the one at risk."""

from __future__ import annotations

from pathlib import Path

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.registry import Services
from mailgothai.stack import manager
from tests.conftest import stack_settings
from tests.integration.test_transactions import HASH, account

TRANSACTIONS = 1500
ADDS = 40


def test_slapd_lives_through_many_transactions_of_many_adds(fresh_data_dir: Path) -> None:
    settings = manager.up(stack_settings(fresh_data_dir)).settings
    try:
        with Services.open(settings, Actor("operator", Role.SUPERADMIN, origin="cli")) as svc:
            svc.domains.add("settle.go.th")
            accounts = svc.backends.accounts
            for n in range(TRANSACTIONS):
                accounts.create_all([(account("settle.go.th", f"u{n}-{k}", display_name="ก" * 30), HASH)
                                     for k in range(ADDS)])
            assert sum(1 for _ in svc.accounts.iter_domain("settle.go.th")) == TRANSACTIONS * ADDS
        slapd = next(p for p in manager.status(settings).processes if p.name.startswith("slapd"))
        assert slapd.running
    finally:
        manager.down(settings)
