"""An administrator's own password and second factor, from the web and the API.

A stolen operator's session or token alone must not take the account over: setting its
own password on /admins/<me>/password (web) or POST /api/v1/admins/<me>/password without
the current one, or removing its own second factor on /admins, is refused. Every admin,
a domain admin too, changes its own password on "My security" with the current one
(counted in the login budget); its other sessions and tokens end, the one in use stays."""

from __future__ import annotations

import re
import uuid
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql

NEW = "Another-own-pass-42"


def fresh_admin(live: Live, world: World, role: Role = Role.DOMAIN_ADMIN, tokens: int = 0) -> tuple[str, list[str]]:
    login = f"own{uuid.uuid4().hex[:8]}"
    domains = (world.a,) if role is Role.DOMAIN_ADMIN else ()
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, role, PasswordInput(plain=PASSWORD), domains=domains)
        service = TokenService(svc.backends, Actor(login, role, frozenset(domains), origin="test"))
        return login, [service.create(f"script {n}", password=PASSWORD).token for n in range(tokens)]


def logs_in(live: Live, login: str, password: str) -> bool:
    c = Client(live)
    try:
        r = c.login_admin(login, password)
        return r.status_code == 303 and r.headers["location"] != "/login"
    finally:
        c.close()


def api(live: Live, token: str) -> httpx.Client:
    return httpx.Client(base_url=live.url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60)


def works(live: Live, token: str) -> int:
    with api(live, token) as c:
        return c.get("/me").status_code


def test_an_operators_session_cannot_set_its_own_password_on_the_admins_page(new_client, live: Live,  # type: ignore[no-untyped-def]
                                                                            world: World) -> None:
    login, _ = fresh_admin(live, world, Role.SUPERADMIN)
    c = new_client()
    assert c.login_admin(login).status_code == 303
    listing = c.get("/admins").text
    assert f'href="/admins/{login}/password"' not in listing, "its own row leads to My security instead"
    assert f'href="/admins/{world.admin_a}/password"' in listing
    c.get(f"/admins/{world.admin_a}/password")  # a CSRF token from a form
    r = c.post(f"/admins/{login}/password", {"password_mode": "set", "password": NEW})
    assert r.status_code == 400, r.text
    assert "My security" in unescape(r.text)
    r = c.post(f"/admins/{login}/password", {"password_mode": "generate"})
    assert r.status_code == 400 and 'id="secret-value"' not in r.text
    assert logs_in(live, login, PASSWORD) and not logs_in(live, login, NEW)
    assert c.get("/").status_code == 200


def test_a_domain_admin_changes_its_own_password_on_my_security(new_client, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    login, (token,) = fresh_admin(live, world, tokens=1)
    me, other = new_client(), new_client()
    for c in (me, other):
        assert c.login_admin(login).status_code == 303
    page = me.get("/security").text
    assert 'action="/security/password"' in page and 'name="current_password"' in page
    r = me.post("/security/password", {"current_password": PASSWORD, "new_password": NEW,
                                       "new_password_repeat": NEW})
    assert r.status_code == 303 and r.headers["location"].startswith("/security?notice="), r.text
    assert "Your password was changed" in me.get(r.headers["location"]).text
    assert me.get("/security").status_code == 200, "the session that changed it stays"
    assert other.get("/security").headers.get("location", "").startswith("/login"), "its other sessions end"
    assert works(live, token) == 401, "its tokens end"
    assert logs_in(live, login, NEW) and not logs_in(live, login, PASSWORD)


def test_a_wrong_current_password_is_refused_named_and_counted(new_client, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    login, _ = fresh_admin(live, world)
    me = new_client()
    assert me.login_admin(login).status_code == 303
    me.get("/security")
    change = {"current_password": "Not-the-password-1", "new_password": NEW, "new_password_repeat": NEW}
    for _ in range(live.settings.login_free_failures):
        r = me.post("/security/password", change)
        assert r.status_code == 400
        assert "Current password: is not your current password" in unescape(r.text)
    r = me.post("/security/password", {**change, "current_password": PASSWORD})
    assert r.status_code == 400 and "too many wrong passwords" in r.text, "refused for a while, even the right one"
    r = me.post("/security/password", {"current_password": PASSWORD, "new_password": NEW,
                                       "new_password_repeat": NEW + "x"})
    assert r.status_code == 400
    assert logs_in(live, login, PASSWORD) and not logs_in(live, login, NEW)


def test_the_change_form_reads_in_thai(new_client, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    login, _ = fresh_admin(live, world)
    me = new_client()
    me.http.cookies.set("mgt_lang", "th")
    assert me.login_admin(login).status_code == 303
    page = me.get("/security").text
    assert "เปลี่ยนรหัสผ่านของฉัน" in page
    r = me.post("/security/password", {"current_password": "Not-the-password-1", "new_password": NEW,
                                       "new_password_repeat": NEW})
    assert r.status_code == 400 and "รหัสผ่านปัจจุบัน" in r.text


@pytest.mark.parametrize("role", [Role.SUPERADMIN, Role.DOMAIN_ADMIN])
def test_a_token_sets_its_owners_password_only_with_the_current_one(live: Live, world: World, role: Role) -> None:
    login, (used, other) = fresh_admin(live, world, role, tokens=2)
    with api(live, used) as me:
        for body in ({"password": NEW}, {"generate_password": True},
                     {"password": NEW, "current_password": "Not-the-password-1"}):
            r = me.post(f"/admins/{login}/password", json=body)
            assert r.status_code == 400, (body, r.text)
            assert [e["field"] for e in r.json()["errors"]] == ["current_password"], r.text
        r = me.post(f"/admins/{login}/password", json={"password": PASSWORD, "current_password": PASSWORD})
        assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["password"], r.text
        assert logs_in(live, login, PASSWORD)
        r = me.post(f"/admins/{login}/password", json={"password": NEW, "current_password": PASSWORD})
        assert r.status_code == 200, r.text
        assert r.json()["generated_password"] is None
    assert works(live, used) == 200, "the token in use keeps working"
    assert works(live, other) == 401
    assert logs_in(live, login, NEW)


def test_an_operator_cannot_remove_its_own_second_factor_on_the_admins_page(new_client, live: Live,  # type: ignore[no-untyped-def]
                                                                           world: World) -> None:
    login, _ = fresh_admin(live, world, Role.SUPERADMIN)
    c = new_client()
    assert c.login_admin(login).status_code == 303
    c.get("/security")
    assert c.post("/security/totp/begin").status_code == 303
    uri = unescape(re.search(r"(otpauth://[^<\"]+)", c.get("/security").text).group(1))
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    assert c.post("/security/totp/confirm", {"code": totp.now()}).status_code == 303
    listing = c.get("/admins").text
    assert f'action="/admins/{login}/totp/reset"' not in listing
    r = c.post(f"/admins/{login}/totp/reset")
    assert r.status_code == 400 and "My security" in unescape(r.text)
    assert live.state.totp.enabled(login)
