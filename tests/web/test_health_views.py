"""GET /health: anyone learns up or down (the status code and one word); only an admin,
by web session or API token, sees what was checked and where."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import Client, Live, World

pytestmark = pytest.mark.sql


def assert_minimal(answer: httpx.Response, live: Live) -> None:
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok"}
    s = live.settings
    for secret in ("ldap://", str(s.ldap_port), str(s.imap_port), "imap", "sqlite", "directory"):
        assert secret not in answer.text, secret


def test_without_a_login_only_up_or_down(live: Live) -> None:
    assert_minimal(httpx.get(live.url + "/health", timeout=60), live)


def test_a_wrong_token_or_a_mail_user_gets_the_minimal_view(live: Live, world: World, client: Client) -> None:
    unknown = {"Authorization": "Bearer mgt_0123456789abcdef_" + "x" * 43}
    wrong = httpx.get(live.url + "/health", headers=unknown, timeout=60)
    assert_minimal(wrong, live)
    assert client.login_user(world.user_a).status_code == 303
    assert_minimal(client.get("/health"), live)


def test_an_api_token_sees_the_details(live: Live, world: World) -> None:
    token = {"Authorization": f"Bearer {world.tokens[world.operator]}"}
    answer = httpx.get(live.url + "/health", headers=token, timeout=60)
    assert answer.status_code == 200, answer.text
    checks = answer.json()["checks"]
    assert {name: c["ok"] for name, c in checks.items()} == {"directory": True, "dovecot": True, "sql": True}
    assert checks["directory"]["detail"].startswith("ldap://")
    assert str(live.settings.imap_port) in checks["dovecot"]["detail"]


def test_an_admin_session_sees_the_details(live: Live, world: World, client: Client) -> None:
    assert client.login_admin(world.admin_a).status_code == 303
    answer = client.get("/health")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok" and set(answer.json()["checks"]) == {"directory", "dovecot", "sql"}
