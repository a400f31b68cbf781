"""With slapd stopped, the web says so plainly and recovers by itself once it is back.

A stack of its own (its slapd is stopped by PID in the middle of the test), with the
web as `mailgothai serve` started by the stack, talked to over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService
from mailgothai.settings import Settings
from mailgothai.stack import manager, slapd
from tests.conftest import stack_settings
from tests.web.conftest import CSRF, PASSWORD

pytestmark = pytest.mark.sql


@pytest.fixture
def own_stack(fresh_data_dir: Path) -> Iterator[Settings]:
    state = manager.up(stack_settings(fresh_data_dir, web_secret_key="health-test-secret"))
    try:
        yield state.settings
    finally:
        manager.down(state.settings)


def health(base: str, token: str = "") -> httpx.Response:
    """Anyone gets up or down; an admin's token gets the details too."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(base + "/health", headers=headers, timeout=30)


def test_slapd_down_gives_clear_errors_and_the_web_recovers_without_restart(own_stack: Settings) -> None:
    settings = own_stack
    base = f"http://{settings.host}:{settings.web_port}"
    domain, login = f"h{uuid.uuid4().hex[:8]}.go.th", "op-health"
    with Services.open(settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, description="health")
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
        actor = Actor(login, Role.SUPERADMIN, origin="test")
        token = TokenService(svc.backends, actor).create("health", password=PASSWORD).token
    api = {"Authorization": f"Bearer {token}"}
    web_pid = manager.WEB.status(settings).pid

    with httpx.Client(base_url=base, timeout=30, headers={"Accept-Language": "en"}) as browser:
        csrf = CSRF.search(browser.get("/login").text)
        assert csrf is not None
        assert browser.post("/login", data={"login": login, "password": PASSWORD,
                                            "csrf_token": csrf.group(1)}).status_code == 303
        assert browser.get("/domains").status_code == 200
        up = health(base, token)
        assert up.status_code == 200, up.text
        assert {name: check["ok"] for name, check in up.json()["checks"].items()} == \
            {"directory": True, "dovecot": True, "sql": True}

        slapd.stop(settings)
        assert not slapd.status(settings).running

        assert health(base).json() == {"status": "degraded"}  # no details without a login
        down = health(base, token)  # the directory is down: the token is taken on its SQL row
        assert down.status_code == 503
        checks = down.json()["checks"]
        assert down.json()["status"] == "degraded"
        assert checks["directory"]["ok"] is False and checks["directory"]["detail"]
        assert checks["dovecot"]["ok"] is True and checks["sql"]["ok"] is True

        for path in ("/domains", f"/domains/{domain}/accounts", "/"):
            page = browser.get(path)
            assert page.status_code == 503, path
            assert "text/html" in page.headers["content-type"]
            assert "Service unavailable" in page.text and "the directory (slapd)" in page.text
            assert "Traceback" not in page.text and "ldap3" not in page.text.lower()
        thai = browser.get("/domains", headers={"Accept-Language": "th"})
        assert thai.status_code == 503 and "บริการ" in thai.text

        problem = httpx.get(base + "/api/v1/domains", headers=api, timeout=30)
        assert problem.status_code == 503
        assert problem.headers["content-type"].startswith("application/problem+json")
        body = problem.json()
        assert body["status"] == 503 and body["type"].endswith("/unavailable") and "directory" in body["detail"]

        slapd.start(settings)

        back = health(base)
        assert back.status_code == 200, back.text
        listing = browser.get(f"/domains/{domain}/accounts")  # the same session: kept in SQL
        assert listing.status_code == 200 and domain in listing.text
        assert browser.get("/domains").status_code == 200
        again = httpx.get(base + "/api/v1/domains", headers=api, params={"q": domain}, timeout=30)
        assert again.status_code == 200 and [d["name"] for d in again.json()["items"]] == [domain]

        # slapd restarted while the web was idle: its pooled connections and kept sort
        # contexts are dead, and the very next requests must not fail because of them.
        slapd.stop(settings)
        slapd.start(settings)
        assert browser.get(f"/domains/{domain}/accounts").status_code == 200
        assert browser.get("/domains").status_code == 200
        assert httpx.get(base + "/api/v1/domains", headers=api, timeout=30).status_code == 200
        assert health(base).status_code == 200
    assert manager.WEB.status(settings).pid == web_pid  # recovered without a restart
