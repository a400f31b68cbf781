"""An API token is made only with the admin's own password, from the web (/security) and
through the API (a token making a token): a stolen session cookie or token alone cannot
mint one that outlives it. A new token expires after 90 days unless 1 to 365 are given;
the list on /security says when each expires (tokens from before, with no expiry, say so)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService
from mailgothai.store.api_tokens import TokenRecord, TokenRecords
from mailgothai.web.formatting import when
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql


def fresh_admin(live: Live, world: World) -> tuple[str, str]:
    """A new domain admin of A (PASSWORD) and a token of its own."""
    login = f"tc{uuid.uuid4().hex[:8]}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(world.a,))
        actor = Actor(login, Role.DOMAIN_ADMIN, frozenset({world.a}), origin="test")
        return login, TokenService(svc.backends, actor).create("first", password=PASSWORD).token


def rows(live: Live, login: str) -> list[TokenRecord]:
    return TokenRecords(live.state.backends.store).newest_first(login)


def test_the_web_makes_a_token_only_with_the_admins_password(client: Client, live: Live, world: World) -> None:
    login, _ = fresh_admin(live, world)
    assert client.login_admin(login).status_code == 303
    client.get("/security")
    before = len(rows(live, login))
    for password in ("", "Not-the-password-1"):
        r = client.post("/security/tokens", {"name": "stolen session", "days": "30", "password": password})
        assert r.status_code == 400, r.text
        assert "Password" in r.text and "id=\"secret-value\"" not in r.text
        assert len(rows(live, login)) == before
    r = client.post("/security/tokens", {"name": "backup script", "password": PASSWORD})
    assert r.status_code == 200 and "id=\"secret-value\"" in r.text
    made = rows(live, login)[0]
    assert made.name == "backup script" and made.expires_at is not None
    assert made.expires_at - made.created_at == timedelta(days=90)
    r = client.post("/security/tokens", {"name": "too long", "days": "366", "password": PASSWORD})
    assert r.status_code == 400 and "365" in r.text and len(rows(live, login)) == before + 1


def test_the_api_makes_a_token_only_with_the_admins_password(live: Live, world: World) -> None:
    login, token = fresh_admin(live, world)
    with httpx.Client(base_url=live.url + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as api:
        for body in ({"name": "stolen token"}, {"name": "stolen token", "password": "Not-the-password-1"}):
            r = api.post("/tokens", json=body)
            assert r.status_code == 400, r.text
            assert [e["field"] for e in r.json()["errors"]] == ["password"]
        assert [t.name for t in rows(live, login)] == ["first"]
        r = api.post("/tokens", json={"name": "too long", "days": 366, "password": PASSWORD})
        assert r.status_code == 400 and [e["field"] for e in r.json()["errors"]] == ["days"]
        r = api.post("/tokens", json={"name": "nightly sync", "password": PASSWORD})
        assert r.status_code == 201, r.text
        made = r.json()
        created, expires = (datetime.fromisoformat(made[k]) for k in ("created_at", "expires_at"))
        assert expires - created == timedelta(days=90)
        assert api.get("/me", headers={"Authorization": f"Bearer {made['token']}"}).status_code == 200
    assert sorted(t.name for t in rows(live, login)) == ["first", "nightly sync"]


@pytest.mark.parametrize(("lang", "never", "expired"), [("en", "does not expire", "expired"),
                                                        ("th", "ไม่มีวันหมดอายุ", "หมดอายุแล้ว")])
def test_the_list_says_when_each_token_expires(client: Client, live: Live, world: World, lang: str, never: str,
                                               expired: str) -> None:
    login, _ = fresh_admin(live, world)
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    records = TokenRecords(live.state.backends.store)
    records.add(TokenRecord(uuid.uuid4().hex[:16], login, "from before", "0" * 64, long_ago))  # no expiry
    records.add(TokenRecord(uuid.uuid4().hex[:16], login, "ran out", "0" * 64, long_ago,
                            expires_at=long_ago + timedelta(days=30)))
    client.http.cookies.set("mgt_lang", lang)
    assert client.login_admin(login).status_code == 303
    page = client.get("/security").text
    assert page.count(never) == 1 and f">{expired}<" in page
    first = next(t for t in rows(live, login) if t.name == "first")
    for ends in (long_ago + timedelta(days=30), first.expires_at):
        assert ends is not None and when(ends, lang) in page
