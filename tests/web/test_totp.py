"""TOTP: an admin with a second factor cannot log in without a valid code."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Client, Live

pytestmark = pytest.mark.sql


def _enable(client: Client) -> pyotp.TOTP:
    client.get("/security")
    assert client.post("/security/totp/begin").status_code == 303
    page = client.get("/security").text
    uri = unescape(re.search(r"(otpauth://[^<\"]+)", page).group(1))
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    assert client.post("/security/totp/confirm", {"code": totp.now()}).status_code == 303
    return totp


def test_admin_with_totp_needs_a_valid_code(new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    login = f"totp-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
    first = new_client()
    first.login_admin(login)
    totp = _enable(first)
    used = totp.now()

    c = new_client()
    response = c.login_admin(login)
    assert response.status_code == 303 and response.headers["location"] == "/login/totp"
    assert c.get("/").headers["location"] == "/login/totp"  # the password alone reaches nothing
    assert c.get("/domains").status_code == 303
    c.get("/login/totp")
    assert c.post("/login/totp", {"code": "000000" if used != "000000" else "111111"}).status_code == 401
    assert c.post("/login/totp", {"code": used}).status_code == 401  # already used: no replay
    assert c.get("/").status_code == 303
    real_clock = live.state.totp._clock
    live.state.totp._clock = lambda: real_clock() + timedelta(seconds=30)  # the next time step
    try:
        ok = c.post("/login/totp", {"code": totp.at(live.state.totp._clock())})
    finally:
        live.state.totp._clock = real_clock
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert c.get("/").status_code == 200


def test_operator_can_require_totp(new_client, live: Live, world) -> None:  # type: ignore[no-untyped-def]
    login = f"must-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(world.a,))
    original = live.state.settings
    live.state.settings = original.replace(web_require_totp=1)
    try:
        c = new_client()
        response = c.login_admin(login)
        assert response.headers["location"] == "/login/totp/enrol"
        assert c.get("/").status_code == 303
        assert "otpauth://" in c.get("/login/totp/enrol").text
    finally:
        live.state.settings = original
