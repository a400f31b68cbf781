"""The auth policy service as Dovecot talks to it (HTTP, JSON), over a real SQL store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailgothai.authpolicy.app import create_app
from mailgothai.core.auth_policy import HEADER
from mailgothai.core.login_budget import BudgetRules
from mailgothai.services.login_budget import LoginBudget
from mailgothai.store import Store

SECRET = "policy-secret"


class Policy:
    """Dovecot's side: POSTs to the app in process (httpx over ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def post(self, query: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://policy") as c:
                return await c.post(query, headers={HEADER: SECRET, **(headers or {})}, **kw)

        return asyncio.run(go())

    def ask(self, command: str, **body: object) -> dict[str, object]:
        answer = self.post(f"/?command={command}", json={"login": "somchai@moph.go.th", "remote": "192.0.2.1",
                                                         "protocol": "imap", **body})
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def policy(tmp_path: Path) -> Iterator[Policy]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    yield Policy(create_app(LoginBudget(store, BudgetRules(pair_free=3, pair_base=600, pair_max=600)), SECRET))
    store.close()


def test_failures_reported_by_dovecot_refuse_the_source(policy: Policy) -> None:
    assert policy.ask("allow") == {"status": 0, "msg": ""}
    for _ in range(3):
        policy.ask("report", success=False, policy_reject=False)
    refused = policy.ask("allow")
    assert refused["status"] == -1 and "try again" in str(refused["msg"])
    policy.ask("report", success=False, policy_reject=True)  # its own refusal is not one more failure
    assert policy.ask("allow", remote="192.0.2.2") == {"status": 0, "msg": ""}  # another source


def test_a_success_clears_the_source(policy: Policy) -> None:
    for _ in range(2):
        policy.ask("report", success=False)
    policy.ask("report", success=True)
    policy.ask("report", success=False)
    assert policy.ask("allow")["status"] == 0


def test_requests_without_the_secret_or_malformed_are_refused(policy: Policy) -> None:
    assert policy.post("/?command=allow", json={"login": "a", "remote": "b"},
                       headers={HEADER: "wrong"}).status_code == 401
    bad = policy.post("/?command=allow", content=b"not json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("body:")
    assert policy.post("/?command=delete", json={"login": "a", "remote": "b"}).json()["msg"].startswith("command:")


def test_an_app_password_success_clears_no_failures_of_an_account_without_a_second_factor(tmp_path: Path) -> None:
    """Dovecot reports the fingerprint of the password that logged in: one of the account's
    app passwords clears none of the failures under the login (they may be guesses at the
    main password), the main password clears them, and with the second factor on (no bind
    takes the main password) an app password clears them too."""
    from datetime import UTC, datetime

    from mailgothai.core.app_passwords import AppPassword

    app_password = AppPassword("0a0b0c0d", "phone", datetime(2025, 1, 1, tzinfo=UTC), "1234abcd", "{ARGON2}x")
    second_factor = {"on": False}
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    try:
        policy = Policy(create_app(LoginBudget(store, BudgetRules(pair_free=3, pair_base=600, pair_max=600)),
                                   SECRET, credentials=lambda login: ([app_password], second_factor["on"])))
        for _ in range(2):
            policy.ask("report", success=False)
        policy.ask("report", success=True, pwhash="1234ABCD")  # the app password
        policy.ask("report", success=False)
        assert policy.ask("allow")["status"] == -1  # the third failure refuses: none was cleared
        for _ in range(2):
            policy.ask("report", success=False, remote="192.0.2.9")
        policy.ask("report", success=True, pwhash="ffff0000", remote="192.0.2.9")  # the main password
        for _ in range(2):
            policy.ask("report", success=False, remote="192.0.2.9")
        assert policy.ask("allow", remote="192.0.2.9")["status"] == 0
        second_factor["on"] = True
        for _ in range(2):
            policy.ask("report", success=False, remote="192.0.2.10")
        policy.ask("report", success=True, pwhash="1234abcd", remote="192.0.2.10")
        policy.ask("report", success=False, remote="192.0.2.10")
        assert policy.ask("allow", remote="192.0.2.10")["status"] == 0
    finally:
        store.close()
