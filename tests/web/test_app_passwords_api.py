"""The API of a user's app passwords and second factor (issue 20): listed without the
passwords or their hashes, revoked and reset by an operator or the admins of the user's
domain, never by another domain's."""

from __future__ import annotations

import uuid

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.second_factor import UserSecurity
from tests.web.conftest import PASSWORD, Live, World

pytestmark = pytest.mark.integration


def call(live: Live, token: str, method: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=live.url, timeout=60) as http:
        return http.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {token}"})


def test_app_passwords_over_the_api(live: Live, world: World) -> None:
    user = f"api-{uuid.uuid4().hex[:6]}@{world.a}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.accounts.add(user, PasswordInput(plain=PASSWORD))
        app, secret = UserSecurity(svc.backends, user).create_app_password("มือถือ", PASSWORD)
    admin_a, operator = world.tokens[world.admin_a], world.tokens[world.operator]

    shown = call(live, admin_a, "GET", f"/accounts/{user}/app-passwords")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["second_factor"] is False
    assert [(a["id"], a["name"], a["last_used"]) for a in body["app_passwords"]] == [(app.id, "มือถือ", None)]
    assert secret not in shown.text and "ARGON2" not in shown.text

    other = call(live, admin_a, "GET", f"/accounts/{world.user_b}/app-passwords")
    assert other.status_code in (403, 404), "B's user is not A's admin's"
    assert call(live, admin_a, "DELETE", f"/accounts/{world.user_b}/second-factor").status_code in (403, 404)

    assert call(live, operator, "DELETE", f"/accounts/{user}/app-passwords/{app.id}").status_code == 204
    assert call(live, operator, "GET", f"/accounts/{user}/app-passwords").json()["app_passwords"] == []
    assert call(live, operator, "DELETE", f"/accounts/{user}/app-passwords/{app.id}").status_code == 404
    assert call(live, admin_a, "DELETE", f"/accounts/{user}/second-factor").status_code == 204
