"""Issue 17 item 5 on the web and the API: a mail user's web login recorded and shown on
the account page; the accounts list sorted by last login both ways (never-logged-in
first oldest-first, last newest-first); the inactive report, a domain admin's holding
only its domains; the CSV export's last-login columns; the API's last_login."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mailgothai.core.last_login import LastLogin, Owner
from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql

ROW = re.compile(r'<a href="/accounts/([^"]+)" translate="no">')


def _agency(live: Live) -> tuple[str, dict[str, str]]:
    """A domain of four accounts: one never logged in, three at known times."""
    name = f"ll{uuid.uuid4().hex[:8]}.go.th"
    now = datetime.now(UTC)
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(name, description="test")
        ids = {}
        for local in ("dang", "anong", "chai", "boon"):
            address = f"{local}@{name}"
            svc.accounts.add(address, PasswordInput(plain=PASSWORD))
            ids[address] = svc.accounts.get(address).mailbox_id
        logins = svc.backends.logins
        assert logins is not None
        for local, days in (("anong", 400), ("boon", 2), ("chai", 30)):
            address = f"{local}@{name}"
            logins.set_seen(ids[address], Owner(ids[address], address, name),
                            LastLogin(now - timedelta(days=days), "imap", "192.0.2.9"))
    return name, ids


def _order(client: Client, path: str) -> list[str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    table = page.text.split('<table id="', 1)[1]
    return [m.split("@")[0] for m in ROW.findall(table)]


def test_the_accounts_list_sorts_by_last_login_both_ways(live: Live, world: World, client: Client) -> None:
    name, _ = _agency(live)
    client.login_admin(world.operator)
    oldest_first = _order(client, f"/domains/{name}/accounts?sort=last_login&desc=0")
    assert oldest_first == ["dang", "anong", "chai", "boon"]  # never logged in first, then the oldest
    assert _order(client, f"/domains/{name}/accounts?sort=last_login&desc=1") == ["boon", "chai", "anong", "dang"]
    assert _order(client, f"/domains/{name}/accounts?sort=last_login&desc=0&limit=2&offset=2") == ["chai", "boon"]
    assert _order(client, f"/domains/{name}/accounts?sort=address") == ["anong", "boon", "chai", "dang"]
    listing = client.get(f"/domains/{name}/accounts?sort=address").text
    assert "Last login" in listing and "never" in listing and "192.0.2.9" in listing
    thai = client.get(f"/domains/{name}/accounts?sort=last_login", headers={"Accept-Language": "th"}).text
    assert "เข้าสู่ระบบล่าสุด" in thai and "ไม่เคยเข้าสู่ระบบ" in thai


def test_a_mail_users_web_login_is_shown_on_the_account_page(live: Live, world: World, new_client) -> None:  # type: ignore[no-untyped-def]
    name, _ = _agency(live)
    user = f"dang@{name}"
    admin = new_client()
    admin.login_admin(world.operator)
    assert "never" in admin.get(f"/accounts/{user}").text.split('id="last-login">', 1)[1].split("</dd>", 1)[0]
    person = new_client()
    assert person.login_user(user, "a wrong password").status_code == 401
    live.state.recorder.flush()
    assert "never" in admin.get(f"/accounts/{user}").text.split('id="last-login">', 1)[1].split("</dd>", 1)[0]
    assert person.login_user(user).status_code == 303
    live.state.recorder.flush()
    shown = admin.get(f"/accounts/{user}").text.split('id="last-login">', 1)[1].split("</dd>", 1)[0]
    assert "web" in shown and "127.0.0.1" in shown


def test_the_inactive_report_of_a_domain_admin_holds_only_its_domains(live: Live, world: World,
                                                                     client: Client) -> None:
    # an account of A that nobody logs in as (the world's own users log in in other tests);
    # "0…" sorts among the first of the never-logged-in, on the report's first page
    idle = f"0idle{uuid.uuid4().hex[:8]}@{world.a}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.accounts.add(idle, PasswordInput(plain=PASSWORD))
    client.login_admin(world.admin_a)
    own = client.get(f"/domains/{world.a}/inactive?days=30")
    assert own.status_code == 200
    assert idle in own.text
    assert client.get(f"/domains/{world.b}/inactive?days=30").status_code == 404
    assert client.get(f"/domains/{world.a}/inactive?days=0").status_code == 400


def test_the_inactive_report_page_lists_never_and_old_not_recent(live: Live, world: World, client: Client) -> None:
    name, _ = _agency(live)
    client.login_admin(world.operator)
    assert _order(client, f"/domains/{name}/inactive?days=10") == ["dang", "anong", "chai"]
    assert _order(client, f"/domains/{name}/inactive?days=100") == ["dang", "anong"]


def test_the_csv_export_and_the_api_show_the_last_login(live: Live, world: World, client: Client) -> None:
    name, _ = _agency(live)
    token = {"Authorization": f"Bearer {world.tokens[world.operator]}"}
    exported = client.http.get(f"/api/v1/domains/{name}/export", headers=token)
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["email", "given_name", "surname", "display_name", "password", "quota", "status", "aliases",
                       "forward", "last_login", "last_login_protocol", "last_login_source"]
    by_address = {r[0].split("@")[0]: r[9:] for r in rows[1:]}
    assert by_address["dang"] == ["", "", ""]
    assert by_address["boon"][1:] == ["imap", "192.0.2.9"]
    assert datetime.fromisoformat(by_address["boon"][0]) > datetime.now(UTC) - timedelta(days=3)

    one = client.http.get(f"/api/v1/accounts/boon@{name}", headers=token).json()
    assert one["last_login"]["protocol"] == "imap" and one["last_login"]["source"] == "192.0.2.9"
    page = client.http.get(f"/api/v1/domains/{name}/accounts", params={"sort": "last_login", "desc": "true"},
                           headers=token).json()
    assert [i["email"].split("@")[0] for i in page["items"]] == ["boon", "chai", "anong", "dang"]
    assert page["items"][-1]["last_login"] is None
    report = client.http.get(f"/api/v1/domains/{name}/inactive", params={"days": "10"}, headers=token).json()
    assert [(i["address"].split("@")[0], i["last_login"] and i["last_login"]["protocol"]) for i in report["items"]] \
        == [("dang", None), ("anong", "imap"), ("chai", "imap")]
    other = {"Authorization": f"Bearer {world.tokens[world.admin_a]}"}
    assert client.http.get(f"/api/v1/domains/{name}/inactive", headers=other).status_code == 404
