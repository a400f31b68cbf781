"""A suspension by import ends the account's open sessions, as `account suspend` does
(AccountService.set_status): against the real Dovecot."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest

from mailgothai.services.domain_routing import DomainRoutingService
from mailgothai.services.imports import ImportService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.integration.conftest import MailClients, imap_alive

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PASSWORD = "Import-kick-pw-1x"


def test_a_row_that_disables_an_account_ends_its_imap_session(services: Services, domain: str,
                                                              mail: MailClients, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    user = f"k{uuid.uuid4().hex[:8]}@{domain}"
    bystander = f"b{uuid.uuid4().hex[:8]}@{domain}"
    both = f"c{uuid.uuid4().hex[:8]}@{domain}"
    for address in (user, bystander, both):
        services.accounts.add(address, PasswordInput(plain=PASSWORD))
    other_name = f"alt-{uuid.uuid4().hex[:8]}.go.th"
    DomainRoutingService(services.backends, services.actor).add_alias_domain(other_name, domain)
    flushed: list[str] = []
    doveadm = services.backends.doveadm
    original = doveadm.flush_auth_cache
    monkeypatch.setattr(doveadm, "flush_auth_cache", lambda names: (flushed.extend(names), original(names))[1])
    path = tmp_path / "suspend.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["email", "status", "display_name"], [user, "disabled", ""],
                                  [bystander, "", "Someone Else"], [both, "disabled", "Both Changed"]])
    with mail.imap(user, PASSWORD) as imap, mail.imap(bystander, PASSWORD) as other:
        imap.select_folder("INBOX")
        other.select_folder("INBOX")
        assert imap_alive(imap) and imap_alive(other)
        summary = ImportService(services.backends, services.actor).run_file(path)
        assert summary.updated == 3
        assert not imap_alive(imap)  # kicked
        assert imap_alive(other)  # a change of name ends nobody's session
    assert not mail.can_login(user, PASSWORD)
    actions = [e.action for e in services.backends.audit.query(object_id=user, limit=10)]
    assert "account.suspend" in actions and "account.update" not in actions
    assert [e.action for e in services.backends.audit.query(object_id=bystander, action="account.update")]
    # a row changing fields and the status: the change of fields, then the suspension
    records = sorted(services.backends.audit.query(object_id=both, limit=10), key=lambda e: e.id)
    assert [e.action for e in records][-2:] == ["account.update", "account.suspend"]
    assert records[-1].after["status"] == "disabled" and records[-2].after["display_name"] == "Both Changed"
    # Dovecot's cache forgets the names logins of the account may be cached under, the alias domain's too
    local = user.split("@")[0]
    assert {user, f"{local}@{other_name}"} <= set(flushed)
