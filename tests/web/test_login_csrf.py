"""Logins, sessions, CSRF, throttling and security headers, through real HTTP."""

from __future__ import annotations

import httpx
import pytest

from mailgothai.core.models import Role, Status
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.store.models import AuditRecord
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql


def audit_count(live: Live) -> int:
    with live.state.backends.store.session() as session:
        return session.query(AuditRecord).count()


def account_status(live: Live, email: str) -> Status:
    with Services.open(live.settings, Actor("check", Role.SUPERADMIN, origin="test")) as svc:
        return svc.accounts.get(email).status


def test_admin_login_sets_safe_cookie_and_headers(client: Client, world: World) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    headers = page.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    response = client.login_admin(world.operator)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "mgt_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback; see the https test below
    assert client.get("/").status_code == 200


def test_secure_cookie_over_https(client: Client, live: Live, world: World) -> None:
    client.http.headers["x-forwarded-proto"] = "https"  # ignored: no proxy trusted
    client.get("/login")
    live.state.settings = live.state.settings.replace(web_https=1)
    try:
        response = client.post("/login", {"login": world.operator, "password": PASSWORD})
        assert "Secure" in response.headers["set-cookie"]
    finally:
        live.state.settings = live.state.settings.replace(web_https=0)


def test_wrong_password_refused_and_page_needs_login(client: Client, world: World) -> None:
    assert client.get("/domains").status_code == 303
    response = client.login_admin(world.operator, "wrong-password-1")
    assert response.status_code == 401
    assert client.get("/domains").headers["location"].startswith("/login")


def test_a_mail_login_that_is_no_address_is_a_wrong_login(new_client, world: World) -> None:  # type: ignore[no-untyped-def]
    """`x@` raised IndexError in the directory's escape_rdn (a 500), and a NUL made an
    invalid DN: a login that is no address is answered as a wrong password is."""
    wrong = new_client().login_user(world.user_a, "not-the-password")
    assert wrong.status_code == 401
    for email in ("x@", f"x\x00@{world.a}", f"{world.user_a}\x00", "\x00", "@", f"a@b@{world.a}"):
        c = new_client()
        page = c.login_user(email)
        assert page.status_code == wrong.status_code, (email, page.status_code, page.text[:300])
        assert "The address or the password is not right." in page.text, email
        assert c.get("/me").status_code != 200  # no session


def test_post_without_valid_csrf_changes_nothing(client: Client, live: Live, world: World) -> None:
    client.login_admin(world.operator)
    client.get("/")
    target = f"staff0@{world.b}"
    before = audit_count(live)
    for data, csrf in (({}, False), ({"csrf_token": "forged"}, False), ({"csrf_token": ""}, False)):
        response = client.post(f"/accounts/{target}/suspend", data, csrf=csrf)
        assert response.status_code == 403
        assert "Nothing was changed" in response.text
    other = Client(live)  # another person's valid token is no good either
    other.login_admin(world.operator)
    other.get("/")
    response = client.post(f"/accounts/{target}/suspend", {"csrf_token": other.csrf}, csrf=False)
    assert response.status_code == 403
    other.close()
    assert account_status(live, target) is Status.ACTIVE
    assert audit_count(live) == before
    # with the session's own token the same post works
    assert client.post(f"/accounts/{target}/suspend").status_code == 303
    assert account_status(live, target) is Status.DISABLED
    assert client.post(f"/accounts/{target}/activate").status_code == 303


def test_login_form_needs_csrf_too(client: Client, world: World) -> None:
    client.get("/login")
    response = client.post("/login", {"login": world.operator, "password": PASSWORD, "csrf_token": "x"}, csrf=False)
    assert response.status_code == 403
    assert "mgt_session" not in response.headers.get("set-cookie", "")


def test_logout_ends_the_session(client: Client, world: World) -> None:
    client.login_admin(world.operator)
    client.get("/")
    stolen = client.http.cookies.get("mgt_session")
    assert client.post("/logout").status_code == 303
    client.http.cookies.set("mgt_session", stolen)
    assert client.get("/").status_code == 303


def test_failed_logins_refuse_their_source_even_for_the_right_password_not_other_sources(  # type: ignore[no-untyped-def]
        new_client, live: Live, world: World) -> None:
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        from mailgothai.services.passwords import PasswordInput

        login = f"lock-{world.a[:9]}"
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
    c = new_client()
    for _ in range(live.state.auth.budget.rules.pair_free):
        assert c.login_admin(login, "not-the-password").status_code == 401
    locked = c.login_admin(login, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text or "ลองใหม่" in locked.text
    # The same admin from another address (127.0.0.2) is not locked out.
    elsewhere = new_client()
    elsewhere.http.close()
    elsewhere.http = httpx.Client(base_url=live.url, follow_redirects=False,
                                  timeout=60, headers={"Accept-Language": "en"},
                                  transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    assert elsewhere.login_admin(login, PASSWORD).status_code == 303


def test_mail_user_self_service(client: Client, live: Live, world: World) -> None:
    assert client.login_user(world.user_a).status_code == 303
    page = client.get("/me")
    assert page.status_code == 200 and world.user_a in page.text
    bad = client.post("/me/password", {"current_password": "wrong-one-123", "new_password": "Another-pass-2",
                                       "new_password_repeat": "Another-pass-2"})
    assert bad.status_code == 400
    ok = client.post("/me/password", {"current_password": PASSWORD, "new_password": "Another-pass-2",
                                      "new_password_repeat": "Another-pass-2"})
    assert ok.status_code == 303
    assert live.state.backends.accounts.check_password(world.user_a, "Another-pass-2")
    again = client.post("/me/password", {"current_password": "Another-pass-2", "new_password": PASSWORD,
                                         "new_password_repeat": PASSWORD})
    assert again.status_code == 303
    assert client.get("/domains").status_code == 404  # a user reaches nothing admin-only


def test_an_admin_deleted_or_reset_anywhere_is_logged_out_and_a_new_admin_of_the_login_inherits_nothing(
        live: Live, world: World) -> None:
    """Through the services (as the CLI and the API call them), not only the web's own pages:
    the sessions end, and the deleted admin's second factor does not greet a new admin made
    with the same login (a role login such as admin-moph changing hands)."""
    login = "rotating-admin"
    operator = Actor("session-tests", Role.SUPERADMIN, origin="cli")
    with Services.open(live.settings, operator) as svc:
        svc.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(world.a,))
        live.state.totp.begin(login)  # a second factor waiting for its code: a secret in SQL
        first = Client(live)
        reset = Client(live)
        try:
            assert first.login_admin(login).headers["location"] != "/login"
            assert first.get("/").status_code == 200
            svc.admins.set_password(login, PasswordInput(plain="Another-admin-pass-2"))
            assert first.get("/").headers.get("location", "").startswith("/login"), "reset: logged out"

            assert reset.login_admin(login, "Another-admin-pass-2").headers["location"] != "/login"
            svc.admins.delete(login)
            svc.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(world.b,))
            assert reset.get("/").headers.get("location", "").startswith("/login"), "deleted: logged out"
            assert live.state.totp.pending_uri(login) is None, "the deleted admin's secret went with it"
        finally:
            first.close()
            reset.close()
            svc.admins.delete(login)
