"""A domain's catch-all and alias domains (issue 17) through the pages, in English and
Thai, and through the API: a domain admin sets its domain's catch-all (within its reach
only), operators add and remove alias domains (domain admins see them), bad input names
the field and stores nothing."""

from __future__ import annotations

import html
import uuid

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Client, Live, World
from tests.web.test_i18n import untranslated

pytestmark = pytest.mark.sql

OPERATOR = Actor("test-setup", Role.SUPERADMIN, origin="test")


def _domain_with_admin(live: Live) -> tuple[str, str, str]:
    """A fresh domain, an account in it and a domain admin of it."""
    name = f"route{uuid.uuid4().hex[:8]}.go.th"
    email, admin = f"info@{name}", f"da-route-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, OPERATOR) as svc:
        svc.domains.add(name, description="ทดสอบ")
        svc.accounts.add(email, PasswordInput(plain=PASSWORD))
        svc.admins.add(admin, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(name,))
    return name, email, admin


def _catch_all_of(live: Live, domain: str) -> str:
    with Services.open(live.settings, OPERATOR) as svc:
        return svc.domains.get(domain).catch_all


def _alias_domains_of(live: Live, domain: str) -> list[str]:
    with Services.open(live.settings, OPERATOR) as svc:
        return [a.name for a in svc.domain_routing.alias_domains(domain)]


@pytest.mark.parametrize("lang", ["en", "th"])
def test_a_domain_admin_sets_and_clears_the_catch_all_on_its_page(
        client: Client, live: Live, world: World, lang: str) -> None:
    domain, info, admin = _domain_with_admin(live)
    client.http.cookies.set("mgt_lang", lang)
    client.login_admin(admin)
    form = client.get(f"/domains/{domain}/catch-all")
    assert form.status_code == 200 and untranslated(form.text, lang) == []
    refused = client.post(f"/domains/{domain}/catch-all", {"catch_all": f"nobody@{world.b}"})
    assert refused.status_code == 400  # another agency's address: outside its reach
    shown = html.unescape(refused.text)
    assert f"nobody@{world.b}" in shown and _catch_all_of(live, domain) == ""
    assert untranslated(shown.replace(f"nobody@{world.b}", ""), lang) == []  # the value typed stays as typed
    done = client.post(f"/domains/{domain}/catch-all", {"catch_all": info})
    assert done.status_code == 303, done.text
    page = client.get(f"/domains/{domain}")
    assert info in page.text and untranslated(page.text, lang) == []
    assert _catch_all_of(live, domain) == info
    assert client.post(f"/domains/{domain}/catch-all", {"catch_all": ""}).status_code == 303
    assert _catch_all_of(live, domain) == ""
    assert client.get(f"/domains/{world.a}/catch-all").status_code == 404  # not its domain


@pytest.mark.parametrize("lang", ["en", "th"])
def test_operators_add_and_remove_alias_domains_and_the_domain_admin_sees_them(
        client: Client, live: Live, world: World, lang: str) -> None:
    domain, _, admin = _domain_with_admin(live)
    new = f"newname{uuid.uuid4().hex[:8]}.go.th"
    client.http.cookies.set("mgt_lang", lang)
    client.login_admin(world.operator)
    form = client.get(f"/domains/{domain}/alias-domains/new")
    assert form.status_code == 200 and untranslated(form.text, lang) == []
    refused = client.post(f"/domains/{domain}/alias-domains/new", {"alias_domain": world.b})
    assert refused.status_code == 400
    assert world.b in refused.text and _alias_domains_of(live, domain) == []
    assert untranslated(refused.text.replace(world.b, ""), lang) == []
    assert client.post(f"/domains/{domain}/alias-domains/new", {"alias_domain": new}).status_code == 303
    assert _alias_domains_of(live, domain) == [new]
    page = client.get(f"/domains/{domain}")
    assert new in page.text and untranslated(page.text, lang) == []

    admin_client = Client(live)
    try:
        admin_client.http.cookies.set("mgt_lang", lang)
        admin_client.login_admin(admin)
        assert new in admin_client.get(f"/domains/{domain}").text
        # operators' pages: a domain admin gets 404 (web/context.py: Access.OPERATOR)
        assert admin_client.get(f"/domains/{domain}/alias-domains/new").status_code == 404
        assert admin_client.post(f"/alias-domains/{new}/remove").status_code == 404
    finally:
        admin_client.close()
    assert _alias_domains_of(live, domain) == [new]
    client.get(f"/domains/{domain}")
    assert client.post(f"/alias-domains/{new}/remove").status_code == 303
    assert _alias_domains_of(live, domain) == []


@pytest.fixture
def api(live: Live):  # type: ignore[no-untyped-def]
    def call(token: str | None, method: str, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=live.url, timeout=60) as http:
            return http.request(method, "/api/v1" + path, headers=headers, **kw)
    return call


def test_catch_all_and_alias_domains_over_the_api(api, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    operator, admin = world.tokens[world.operator], world.tokens[world.admin_a]
    r = api(admin, "PATCH", f"/domains/{world.a}", json={"catch_all": world.user_a})
    assert r.status_code == 200, r.text
    assert r.json()["catch_all"] == world.user_a
    r = api(admin, "PATCH", f"/domains/{world.a}", json={"catch_all": "someone@gmail.com"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "catch_all"
    assert r.json()["errors"][0]["code"] == "catch_all_outside"
    assert api(admin, "GET", f"/domains/{world.a}").json()["catch_all"] == world.user_a
    r = api(admin, "PATCH", f"/domains/{world.a}", json={"catch_all": world.user_a, "hourly_send_limit": 5})
    assert r.status_code == 403  # limits stay the operators'
    assert api(admin, "PATCH", f"/domains/{world.a}", json={"catch_all": None}).json()["catch_all"] is None

    new = f"apinew{uuid.uuid4().hex[:8]}.go.th"
    assert api(admin, "POST", f"/domains/{world.a}/alias-domains", json={"name": new}).status_code == 403
    r = api(operator, "POST", f"/domains/{world.a}/alias-domains", json={"name": world.b})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "name"
    assert r.json()["errors"][0]["code"] == "alias_domain_hosted"
    r = api(operator, "POST", f"/domains/{world.a}/alias-domains", json={"name": new})
    assert r.status_code == 201, r.text
    assert r.json() == {"name": new, "target": world.a}
    assert api(admin, "GET", f"/domains/{world.a}/alias-domains").json() == {"items": [r.json()]}
    assert api(admin, "GET", f"/domains/{world.b}/alias-domains").status_code == 404
    assert api(admin, "DELETE", f"/alias-domains/{new}").status_code == 403
    assert api(operator, "DELETE", f"/alias-domains/{new}").status_code == 204
    assert api(operator, "GET", f"/domains/{world.a}/alias-domains").json() == {"items": []}
    assert api(operator, "DELETE", f"/alias-domains/{new}").status_code == 404


def test_a_mail_user_logs_in_to_the_self_service_by_its_alias_domain_name(client: Client, live: Live) -> None:
    domain, info, _ = _domain_with_admin(live)
    new = f"selfnew{uuid.uuid4().hex[:8]}.go.th"
    with Services.open(live.settings, OPERATOR) as svc:
        svc.domain_routing.add_alias_domain(new, domain)
    assert client.login_user(f"info@{new}", "Wrong-password-1").status_code != 303
    done = client.login_user(f"info@{new}")
    assert done.status_code == 303, done.text
    assert info in client.get("/me").text  # the account itself, by its own address
