"""The quarantine (issue 18) in the admin web, the mail user's self-service and the JSON
API: a domain admin lists its domain's quarantine (sender, subject, score, rspamd symbols)
and releases or deletes with the form's CSRF token; another domain's messages are not
found on any page or endpoint and stay held; the mail user sees their own only; HTML
is shown as text; Thai pages."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.core.quarantine import State
from mailgothai.core.spam import Scan
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.spool import Envelope, Target, new_queue_id
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.store.db import Store
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql

OPERATOR = Actor("test-setup", Role.SUPERADMIN, origin="test")
SCAN = Scan(action="no action", score=12.25, symbols={"BAYES_SPAM": 5.5, "PHISHING": 6.0})


def keep(settings: Settings, to: str, subject: str) -> str:
    """A message kept as the relay keeps it (relay/quarantine.py), on this machine."""
    body = (f"From: Bank <alert@bank.example>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            "<p>Verify your account</p><script>steal()</script><a href='http://evil.example/'>here</a>\r\n").encode()
    store = Store.open(settings.sql_url_effective)
    try:
        quarantine = Quarantine(QuarantineFiles(settings.quarantine_path), QuarantineIndex(store),
                                settings.relay_hostname)
        envelope = Envelope(new_queue_id(), "alert@bank.example", (Target(to, to, True),), time.time())
        return quarantine.keep(envelope, body, SCAN, to.split("@")[1], 30)
    finally:
        store.close()


def state(settings: Settings, held_id: str) -> State:
    store = Store.open(settings.sql_url_effective)
    try:
        held = QuarantineIndex(store).get(held_id)
        assert held is not None
        return held.recipients[0].state
    finally:
        store.close()


def test_a_domain_admin_sees_and_releases_its_own_never_another_domains(
        client: Client, live: Live, world: World) -> None:
    subject_a, subject_b = f"verify-a-{uuid.uuid4().hex[:6]}", f"verify-b-{uuid.uuid4().hex[:6]}"
    mine, other = keep(live.settings, world.user_a, subject_a), keep(live.settings, world.user_b, subject_b)
    client.login_admin(world.admin_a)
    page = client.get(f"/domains/{world.a}/quarantine")
    assert page.status_code == 200
    assert subject_a in page.text and "alert@bank.example" in page.text and "PHISHING" in page.text
    assert "12.2" in page.text and subject_b not in page.text
    assert client.get(f"/domains/{world.b}/quarantine").status_code == 404
    assert client.get(f"/quarantine/{other}").status_code == 404
    for action in ("release", "delete", "learn-spam"):
        assert client.post(f"/quarantine/{other}/{action}").status_code == 404
    assert state(live.settings, other) is State.HELD

    shown = client.get(f"/quarantine/{mine}")
    assert shown.status_code == 200 and "Verify your account" in shown.text
    assert "<script>" not in shown.text and "steal()" not in shown.text  # HTML as text, its script not at all
    assert client.post(f"/quarantine/{mine}/release", csrf=False).status_code == 403
    assert state(live.settings, mine) is State.HELD
    released = client.post(f"/quarantine/{mine}/release")
    assert released.status_code == 303 and "quarantine-released" in released.headers["location"]
    assert state(live.settings, mine) in (State.RELEASE_REQUESTED, State.RELEASED)
    again = client.post(f"/quarantine/{mine}/release")
    assert "quarantine-unchanged" in again.headers["location"]


def test_the_quarantine_page_in_thai(client: Client, live: Live, world: World) -> None:
    keep(live.settings, world.user_a, "ยืนยันบัญชี")
    client.http.cookies.set("mgt_lang", "th")
    client.login_admin(world.admin_a)
    page = client.get(f"/domains/{world.a}/quarantine").text
    assert "ที่กักกันอีเมล" in page and "ปล่อยอีเมล" in page and "ยืนยันบัญชี" in page
    assert "Release" not in page and "Nothing in the quarantine" not in page


def test_a_mail_user_sees_and_deletes_only_their_own(client: Client, live: Live, world: World) -> None:
    subject_a, subject_b = f"own-{uuid.uuid4().hex[:6]}", f"notmine-{uuid.uuid4().hex[:6]}"
    mine, other = keep(live.settings, world.user_a, subject_a), keep(live.settings, world.user_b, subject_b)
    client.login_user(world.user_a)
    page = client.get("/me/quarantine")
    assert page.status_code == 200 and subject_a in page.text and subject_b not in page.text
    assert client.get(f"/me/quarantine/{other}").status_code == 404
    assert client.post(f"/me/quarantine/{other}/delete").status_code == 404
    assert state(live.settings, other) is State.HELD
    assert client.get(f"/me/quarantine/{mine}").status_code == 200
    assert client.post(f"/me/quarantine/{mine}/delete").status_code == 303
    assert state(live.settings, mine) is State.DELETED
    assert client.get(f"/domains/{world.a}/quarantine").status_code in (302, 303, 404)  # not an admin's page


def test_the_api_holds_a_domain_admin_to_its_domains(live: Live, world: World) -> None:
    mine, other = keep(live.settings, world.user_a, "api-a"), keep(live.settings, world.user_b, "api-b")

    def call(method: str, path: str, login: str, **kw: object) -> httpx.Response:
        with httpx.Client(base_url=live.url, timeout=60) as http:
            return http.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {world.tokens[login]}"},
                                **kw)  # type: ignore[arg-type]

    listed = call("GET", "/quarantine", world.admin_a).json()["items"]
    ids = {item["id"] for item in listed}
    assert mine in ids and other not in ids
    assert call("GET", f"/quarantine?domain={world.b}", world.admin_a).status_code == 404
    assert call("GET", f"/quarantine/{other}", world.admin_a).status_code == 404
    assert call("POST", f"/quarantine/{other}/release", world.admin_a, json={}).status_code == 404
    assert call("DELETE", f"/quarantine/{other}", world.admin_a).status_code == 404
    assert state(live.settings, other) is State.HELD
    every = {item["id"] for item in call("GET", "/quarantine", world.operator).json()["items"]}
    assert {mine, other} <= every

    one = call("GET", f"/quarantine/{mine}", world.admin_a).json()
    assert one["subject"] == "api-a" and one["symbols"] == {"BAYES_SPAM": 5.5, "PHISHING": 6.0}
    assert one["preview"]["text"].startswith("Verify your account") and "steal" not in one["preview"]["text"]
    refused = call("POST", f"/quarantine/{mine}/learn", world.admin_a, json={"as": "maybe"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "as"
    assert call("POST", f"/quarantine/{mine}/release", world.admin_a, json={}).json() == {"released": [world.user_a]}
    assert call("POST", f"/quarantine/{mine}/release", world.admin_a, json={}).json() == {"released": []}


def test_the_list_pages_and_refuses_a_bad_offset(client: Client, live: Live, world: World) -> None:
    keep(live.settings, world.user_a, "paged")
    client.login_admin(world.admin_a)
    assert "paged" in client.get(f"/domains/{world.a}/quarantine?offset=0").text
    assert "paged" not in client.get(f"/domains/{world.a}/quarantine?offset=100000").text
    refused = client.get(f"/domains/{world.a}/quarantine?offset=-1")
    assert refused.status_code == 400 and "Offset" in refused.text


def test_a_removed_shared_mailboxs_quarantine_never_reaches_a_new_account_at_its_address(
        new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    """Mail belongs to a mailbox, not to an address: removing the shared mailbox drops its
    quarantined mail as deleting an account does, so the address's next holder neither
    lists nor opens (nor releases) it."""
    domain = f"s{uuid.uuid4().hex[:8]}.go.th"
    saraban = f"saraban@{domain}"
    subject = f"official-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, OPERATOR) as services:
        services.domains.add(domain, max_accounts="10", quota_pool="10G")
        services.shared.add(saraban, name="สารบรรณ")
    held = keep(live.settings, saraban, subject)
    assert state(live.settings, held) is State.HELD
    with Services.open(live.settings, OPERATOR) as services:
        services.shared.remove(saraban)
        [record] = services.backends.audit.query(object_id=saraban, action="shared.delete")
        assert record.after == {"quarantined_dropped": 1}
        services.accounts.add(saraban, PasswordInput(plain=PASSWORD))

    client = new_client()
    assert client.login_user(saraban).status_code == 303
    page = client.get("/me/quarantine")
    assert page.status_code == 200 and subject not in page.text
    assert client.get(f"/me/quarantine/{held}").status_code == 404
    assert client.post(f"/me/quarantine/{held}/release").status_code == 404
