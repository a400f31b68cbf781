"""An admin's API tokens end when an operator resets its password or suspends it (the
web sessions already did), each with an audit record; a suspended admin made active
again does not get its old tokens back. An operator changing its own password (with its
current one: a token alone may not, tests/web/test_admin_own_password.py) keeps the token
it is using and loses its others (as a web password change keeps that session)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService, token_id
from tests.web.conftest import PASSWORD, Live, World

pytestmark = pytest.mark.sql


def admin_with_token(live: Live, world: World, role: Role = Role.DOMAIN_ADMIN,
                     tokens: int = 1) -> tuple[str, list[str]]:
    login = f"t{uuid.uuid4().hex[:8]}"
    domains = (world.a,) if role is Role.DOMAIN_ADMIN else ()
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, role, PasswordInput(plain=PASSWORD), domains=domains)
        service = TokenService(svc.backends, Actor(login, role, frozenset(domains), origin="test"))
        return login, [service.create(f"script {n}", password=PASSWORD).token for n in range(tokens)]


def api(live: Live, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=live.url + "/api/v1", headers=headers, timeout=60)


def works(live: Live, token: str) -> int:
    with api(live, token) as c:
        return c.get("/domains").status_code


def revocations(live: Live, world: World, token: str) -> list[dict]:  # type: ignore[type-arg]
    with api(live, world.tokens[world.operator]) as op:
        items = op.get("/audit", params={"action": "api_token.revoke", "limit": "200"}).json()["items"]
    return [e for e in items if e["object_id"] == token_id(token)]


def test_a_password_reset_by_an_operator_ends_the_admins_tokens(live: Live, world: World) -> None:
    login, (token,) = admin_with_token(live, world)
    assert works(live, token) == 200
    with api(live, world.tokens[world.operator]) as op:
        reset = op.post(f"/admins/{login}/password", json={"password": "Another-pass-42"})
        assert reset.status_code == 200, reset.text
    assert works(live, token) == 401
    [record] = revocations(live, world, token)
    assert record["actor"] == world.operator and record["after"]["reason"] == "password reset"


def test_a_suspension_ends_the_admins_tokens_for_good(live: Live, world: World) -> None:
    login, (token,) = admin_with_token(live, world)
    assert works(live, token) == 200
    with api(live, world.tokens[world.operator]) as op:
        assert op.patch(f"/admins/{login}", json={"status": "disabled"}).status_code == 200
        assert works(live, token) == 401
        assert op.patch(f"/admins/{login}", json={"status": "active"}).status_code == 200
    assert works(live, token) == 401  # revoked, not only hidden while suspended
    [record] = revocations(live, world, token)
    assert record["after"]["reason"] == "suspended"


def test_an_operator_changing_its_own_password_keeps_only_the_token_in_use(live: Live, world: World) -> None:
    login, (used, other) = admin_with_token(live, world, Role.SUPERADMIN, tokens=2)
    with api(live, used) as me:
        changed = me.post(f"/admins/{login}/password", json={"password": "Another-pass-42",
                                                               "current_password": PASSWORD})
        assert changed.status_code == 200, changed.text
    assert works(live, used) == 200
    assert works(live, other) == 401
