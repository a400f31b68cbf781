"""A domain's DNS records on the web and over the API (issue 19), with the DNS check asking
a DNS server on loopback: the page lists the records and a zone file that loads in
dnspython; its "Check DNS" button shows a missing DMARC record and a wrong SPF record with
their reasons, in English and in Thai, and all ok once everything is published; the API's
GET /dns and POST /dns/check say the same; another domain's records are not found (page
and API); the MTA-STS policy is served at /.well-known/mta-sts.txt to a request for
mta-sts.DOMAIN of a hosted, active domain, without a login, and not for any other host."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import dns.zone
import httpx
import pytest

from mailgothai.core.models import Role, Status
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService
from mailgothai.settings import Settings
from tests.dnsserver import DnsServer
from tests.web.conftest import PASSWORD, Client, Live, serve
from tests.web.test_i18n import untranslated

pytestmark = pytest.mark.sql

OPERATOR = {"mx_hosts": ("mx1.mailgothai.go.th", "mx2.mailgothai.go.th"), "web_hostname": "admin.mailgothai.go.th",
            "mail_hostname": "mail.mailgothai.go.th", "dmarc_report_address": "dmarc@mailgothai.go.th"}
POLICY = ("version: STSv1\r\nmode: testing\r\nmx: mx1.mailgothai.go.th\r\nmx: mx2.mailgothai.go.th\r\n"
          "max_age: 604800\r\n")


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer.running() as server:
        yield server


@pytest.fixture(scope="module")
def dns_live(web_settings: Settings, dns_server: DnsServer) -> Iterator[Live]:
    """The web with the operator's DNS choices, its checks asking the loopback server."""
    yield from serve(web_settings.replace(**OPERATOR, dns_check_resolver=dns_server.address, dns_check_timeout=2))


@dataclass
class Agencies:
    mine: str
    other: str
    suspended: str
    admin: str
    token: str
    operator_token: str


@pytest.fixture(scope="module")
def agencies(dns_live: Live) -> Agencies:
    tag = uuid.uuid4().hex[:8]
    mine, other, suspended, admin = f"dw{tag}.go.th", f"dwo{tag}.go.th", f"dws{tag}.go.th", f"dns-{tag}"
    with Services.open(dns_live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        for name in (mine, other, suspended):
            svc.domains.add(name, description="กรมทดสอบ")
            svc.dkim.generate(name)
        svc.domains.set_status(suspended, Status.DISABLED)
        svc.admins.add(admin, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(mine,))
        svc.admins.add(f"op-{admin}", Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
        token = TokenService(svc.backends, Actor(admin, Role.DOMAIN_ADMIN, frozenset({mine}), origin="test"))
        operator = TokenService(svc.backends, Actor(f"op-{admin}", Role.SUPERADMIN, origin="test"))
        return Agencies(mine, other, suspended, admin, token.create("dns", password=PASSWORD).token,
                        operator.create("dns", password=PASSWORD).token)


@pytest.fixture
def client(dns_live: Live) -> Iterator[Client]:
    c = Client(dns_live)
    yield c
    c.close()


def publish_zone(server: DnsServer, text: str, origin: str) -> None:
    """The domain's records, and the operator's consent to its DMARC reports (the operator's zone)."""
    server.set(f"{origin}._report._dmarc.mailgothai.go.th", "TXT", "v=DMARC1")
    server.publish_zone(text, origin)


def zone_of(page: str) -> str:
    found = re.search(r'<pre id="dns-zone" translate="no">([^<]*)</pre>', page)
    assert found, page
    return html.unescape(found.group(1))


def reason_shown(page: str, purpose: str) -> str:
    """The text of a finding's reason, as a person reads it."""
    row = re.search(rf'<tr data-purpose="{purpose}" data-state="[a-z]+">(.*?)</tr>', page, re.DOTALL)
    assert row, page
    cell = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.DOTALL)[3]
    return html.unescape(re.sub(r"<[^>]+>", "", cell))


def states_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-purpose="([a-z-]+)" data-state="([a-z]+)">', page))


def test_the_mta_sts_policy_is_served_for_mta_sts_of_a_hosted_active_domain(dns_live: Live,
                                                                             agencies: Agencies) -> None:
    url = dns_live.url + "/.well-known/mta-sts.txt"
    for host in (f"mta-sts.{agencies.mine}", f"MTA-STS.{agencies.mine.upper()}:443"):
        served = httpx.get(url, headers={"Host": host})
        assert served.status_code == 200, host
        assert served.headers["content-type"].startswith("text/plain")
        assert served.text == POLICY
    for host in ("mta-sts.nowhere-hosted.go.th", agencies.mine, f"mta-sts.{agencies.suspended}", "127.0.0.1",
                 "mta-sts.", "mta-sts.bad_name!.go.th"):
        refused = httpx.get(url, headers={"Host": host})
        assert refused.status_code == 404, host
        assert "STSv1" not in refused.text


def test_the_page_shows_the_records_and_the_check_names_what_is_wrong(dns_live: Live, agencies: Agencies,
                                                                      client: Client,
                                                                      dns_server: DnsServer) -> None:
    assert client.login_admin(agencies.admin).status_code == 303
    assert f'href="/domains/{agencies.mine}/dns"' in client.get(f"/domains/{agencies.mine}").text
    base = f"/domains/{agencies.mine}/dns"
    page = client.get(base)
    assert page.status_code == 200
    zone = zone_of(page.text)
    dns.zone.from_text(zone, origin=f"{agencies.mine}.", check_origin=False)  # loads as it is
    assert f'{agencies.mine}. 3600 IN TXT "v=spf1 mx -all"' in zone
    assert 'data-copy="dns-zone"' in page.text and f'action="{base}/check"' in page.text

    publish_zone(dns_server, zone, agencies.mine)
    dns_server.clear(f"_dmarc.{agencies.mine}")
    dns_server.set(agencies.mine, "TXT", "v=spf1 mx +all")
    assert client.post(f"{base}/check", {"csrf_token": "forged"}).status_code == 403
    checked = client.post(f"{base}/check")
    assert checked.status_code == 200
    states = states_of(checked.text)
    assert {p: s for p, s in states.items() if s != "ok"} == {"spf": "wrong", "dmarc": "missing"}
    assert len(states) == 13 and 'data-ok="no"' in checked.text
    assert reason_shown(checked.text, "spf") == "'+all' at the end lets any server send mail as the domain"
    assert reason_shown(checked.text, "dmarc") == f"_dmarc.{agencies.mine} does not exist in DNS"

    client.http.cookies.set("mgt_lang", "th")
    thai = client.post(f"{base}/check")
    assert reason_shown(thai.text, "spf") == "'+all' ท้ายระเบียนยอมให้เครื่องใดก็ได้ส่งอีเมลในนามของโดเมน"
    assert reason_shown(thai.text, "dmarc") == f"ไม่มีชื่อ _dmarc.{agencies.mine} ใน DNS"
    assert "ยังไม่ได้ประกาศ" in thai.text
    assert untranslated(thai.text, "th") == []
    client.http.cookies.set("mgt_lang", "en")
    assert untranslated(client.post(f"{base}/check").text, "en") == []

    publish_zone(dns_server, zone, agencies.mine)
    fixed = client.post(f"{base}/check")
    assert set(states_of(fixed.text).values()) == {"ok"} and 'data-ok="yes"' in fixed.text


def test_another_domains_records_are_not_found(dns_live: Live, agencies: Agencies, client: Client,
                                               dns_server: DnsServer) -> None:
    client.login_admin(agencies.admin)
    client.get(f"/domains/{agencies.mine}/dns")
    asked = len(dns_server.asked())
    assert client.get(f"/domains/{agencies.other}/dns").status_code == 404
    assert client.post(f"/domains/{agencies.other}/dns/check").status_code == 404
    api = httpx.Client(base_url=dns_live.url, headers={"Authorization": f"Bearer {agencies.token}"})
    with api:
        assert api.get(f"/api/v1/domains/{agencies.other}/dns").status_code == 404
        assert api.post(f"/api/v1/domains/{agencies.other}/dns/check").status_code == 404
    assert not any(agencies.other in name for name, _ in dns_server.asked()[asked:])  # nothing was asked


def test_the_api_gives_the_records_and_the_check(dns_live: Live, agencies: Agencies,
                                                 dns_server: DnsServer) -> None:
    with httpx.Client(base_url=dns_live.url, headers={"Authorization": f"Bearer {agencies.token}"}) as api:
        shown = api.get(f"/api/v1/domains/{agencies.mine}/dns")
        assert shown.status_code == 200
        body = shown.json()
        by_purpose = {r["purpose"]: r for r in body["records"]}
        assert by_purpose["dmarc"]["value"] == "v=DMARC1; p=quarantine; rua=mailto:dmarc@mailgothai.go.th"
        assert all(len(s) <= 255 for s in by_purpose["dkim"]["strings"])
        assert "".join(by_purpose["dkim"]["strings"]) == by_purpose["dkim"]["value"]
        served = httpx.get(dns_live.url + "/.well-known/mta-sts.txt", headers={"Host": f"mta-sts.{agencies.mine}"})
        assert body["mta_sts_policy"] == served.text == POLICY
        publish_zone(dns_server, body["zone"], agencies.mine)
        dns_server.set(agencies.mine, "MX", "10 mx1.mailgothai.go.th", "20 mx.old-provider.example")
        checked = api.post(f"/api/v1/domains/{agencies.mine}/dns/check")
        assert checked.status_code == 200
        wrong = [f for f in checked.json()["findings"] if f["state"] != "ok"]
        assert [(f["purpose"], f["code"]) for f in wrong] == [("mx", "dns_mx_elsewhere")]
        assert "mx.old-provider.example" in wrong[0]["reason"]
    with httpx.Client(base_url=dns_live.url, headers={"Authorization": f"Bearer {agencies.operator_token}"}) as op:
        assert op.get(f"/api/v1/domains/{agencies.other}/dns").status_code == 200
        document = op.get("/api/v1/openapi.json").json()
    assert {"get"} <= set(document["paths"]["/api/v1/domains/{domain}/dns"])
    assert {"post"} <= set(document["paths"]["/api/v1/domains/{domain}/dns/check"])
