"""`mailgothai quarantine` (issue 18) against the session's stack: list a domain's or a
recipient's (plain and --json), show one (headers and text), release once, delete, and
bad input or a missing message exiting as every command does (2 naming the field, 1)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from mailgothai.core.spam import Scan
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.spool import Envelope, Target, new_queue_id
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.quarantine import QuarantineService
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.store.db import Store
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles
from tests.conftest import Cli

pytestmark = [pytest.mark.integration, pytest.mark.sql]


def keep(settings: Settings, to: str, subject: str) -> str:
    data = (f"From: Lottery <win@lottery.example>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n"
            "You won a prize.\r\n").encode()
    store = Store.open(settings.sql_url_effective)
    try:
        quarantine = Quarantine(QuarantineFiles(settings.quarantine_path), QuarantineIndex(store),
                                settings.relay_hostname)
        return quarantine.keep(Envelope(new_queue_id(), "win@lottery.example", (Target(to, to, True),), time.time()),
                               data, Scan("no action", 10.5, {"BAYES_SPAM": 5.0}), to.split("@")[1], 30)
    finally:
        store.close()


def test_list_show_release_delete(cli: Cli, stack: Settings) -> None:
    domain = f"q{uuid.uuid4().hex[:8]}.go.th"
    user, other = f"somchai@{domain}", f"malee@{domain}"
    first, second = keep(stack, user, "รางวัลใหญ่"), keep(stack, other, "prize")

    listed = cli("quarantine", "list", domain)
    assert listed.returncode == 0, listed.stderr
    assert first in listed.stdout and second in listed.stdout and "รางวัลใหญ่" in listed.stdout
    mine = json.loads(cli("quarantine", "list", "--recipient", user, "--json").stdout)
    assert [(m["id"], m["score"], m["symbols"], [r["state"] for r in m["recipients"]]) for m in mine] == [
        (first, 10.5, {"BAYES_SPAM": 5.0}, ["held"])]

    shown = cli("quarantine", "show", first)
    assert shown.returncode == 0 and "You won a prize." in shown.stdout and "win@lottery.example" in shown.stdout

    released = cli("quarantine", "release", first)
    assert released.returncode == 0 and released.stdout.strip() == f"released to {user}"
    again = cli("quarantine", "release", first)
    assert again.returncode == 0 and again.stdout.startswith("nothing released")
    deleted = cli("quarantine", "delete", second, "--recipient", other)
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"deleted for {other}"
    states = {m["id"]: m["recipients"][0]["state"] for m in json.loads(cli("quarantine", "list", domain,
                                                                          "--json").stdout)}
    assert states[second] == "deleted" and states[first] in ("release_requested", "released")


def test_bad_input_and_missing_messages(cli: Cli) -> None:
    refused = cli("quarantine", "list", "--recipient", "not-an-address")
    assert refused.returncode == 2 and refused.stderr.startswith("mailgothai: error: recipient:")
    missing = cli("quarantine", "release", "0" * 22)
    assert missing.returncode == 1 and "quarantined message not found" in missing.stderr
    assert cli("quarantine", "learn", "0" * 22).returncode == 2  # --spam or --ham is required


def test_an_address_given_to_someone_else_lists_none_of_the_old_holders_quarantine(
        cli: Cli, stack: Settings, services: Services) -> None:
    """Deleted, the account's quarantined mail goes with it; renamed, it follows (the SQL
    store's side of services/lifecycle.py, on SQLite and PostgreSQL)."""
    domain = f"q{uuid.uuid4().hex[:8]}.go.th"
    services.domains.add(domain)
    director, clerk = f"director@{domain}", f"clerk@{domain}"
    for address in (director, clerk):
        services.accounts.add(address, PasswordInput(plain="Quarantine-pass-1"))
    gone, moving = keep(stack, director, "for the old director"), keep(stack, clerk, "for the clerk")

    services.accounts.delete(director)
    services.accounts.add(director, PasswordInput(plain="Quarantine-pass-2"))
    assert QuarantineService.of_user(services.backends, director).listing() == []
    assert gone not in cli("quarantine", "list", domain).stdout

    services.lifecycle.rename(clerk, f"registrar@{domain}")
    assert QuarantineService.of_user(services.backends, clerk).listing() == []
    mine = QuarantineService.of_user(services.backends, f"registrar@{domain}")
    assert [h.id for h in mine.listing()] == [moving]
    assert mine.release(moving) == [f"registrar@{domain}"]
