"""A domain's DKIM keys (issue 19) through the one DKIM service, as the CLI drives it
(tests/relay/test_dkim_rotation.py signs real mail with them): a domain admin refused on
another domain's keys in the service (not found, nothing changed, no audit record), and
the API (generate, rotate, activate, retire, the DNS record in ≤255-character strings,
another domain's keys 404, one audit record per change). The page: test_dkim_web.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mailgothai.core.models import Role
from mailgothai.errors import NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService
from mailgothai.store.models import AuditRecord
from mailgothai.store.relay_state import DkimKey
from tests.web.conftest import PASSWORD, Live

pytestmark = pytest.mark.sql

QUOTED = re.compile(r'"([^"]*)"')


@dataclass
class Agencies:
    mine: str  # the domain admin's domain
    other: str  # another agency's, with a key of its own
    admin: str
    token: str
    operator_token: str


@pytest.fixture
def agencies(live: Live) -> Iterator[Agencies]:
    tag = uuid.uuid4().hex[:8]
    mine, other, admin = f"dk{tag}.go.th", f"dko{tag}.go.th", f"dkim-{tag}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        for name in (mine, other):
            svc.domains.add(name, description="กรมทดสอบ")
        svc.admins.add(admin, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(mine,))
        svc.admins.add(f"op-{admin}", Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
        svc.dkim.generate(other)
        token = TokenService(svc.backends, Actor(admin, Role.DOMAIN_ADMIN, frozenset({mine}), origin="test"))
        operator = TokenService(svc.backends, Actor(f"op-{admin}", Role.SUPERADMIN, origin="test"))
        made = Agencies(mine, other, admin, token.create("dkim", password=PASSWORD).token,
                        operator.create("dkim", password=PASSWORD).token)
    yield made


def audit_rows(live: Live, domain: str) -> list[tuple[str, str, str]]:
    """The domain's DKIM audit records: action, actor, origin."""
    with live.state.backends.store.session() as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.domain == domain,
                                                         AuditRecord.action.startswith("dkim."))
                               .order_by(AuditRecord.id))
        return [(r.action, r.actor, r.origin) for r in rows]


def keys_of(live: Live, domain: str) -> list[DkimKey]:
    with Services.open(live.settings, Actor("test-check", Role.SUPERADMIN, origin="test")) as svc:
        return svc.dkim.list(domain)


def key_files(live: Live, domain: str) -> dict[str, bytes]:
    folder = Path(live.settings.dkim_key_dir) / domain
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.pem"))}


def test_a_domain_admin_is_refused_on_another_domains_keys(live: Live, agencies: Agencies) -> None:
    other = agencies.other
    keys, files, audit = keys_of(live, other), key_files(live, other), audit_rows(live, other)
    selector = keys[0].selector
    actor = Actor(agencies.admin, Role.DOMAIN_ADMIN, frozenset({agencies.mine}), origin="test")
    with Services.open(live.settings, actor) as svc:
        for attempt in (lambda: svc.dkim.list(agencies.other), lambda: svc.dkim.get(agencies.other, selector),
                        lambda: svc.dkim.record(agencies.other, selector), lambda: svc.dkim.generate(agencies.other),
                        lambda: svc.dkim.generate(agencies.other, "ed25519"),
                        lambda: svc.dkim.rotate(agencies.other), lambda: svc.dkim.activate(agencies.other, selector),
                        lambda: svc.dkim.retire(agencies.other, selector)):
            with pytest.raises(NotFound):
                attempt()
        assert svc.dkim.list(agencies.mine) == []  # its own domain answers
    assert keys_of(live, agencies.other) == keys
    assert key_files(live, agencies.other) == files
    assert audit_rows(live, agencies.other) == audit


def _strings(zone_line: str) -> list[str]:
    return QUOTED.findall(zone_line)


def test_api_generate_rotate_activate_and_another_domains_keys(live: Live, agencies: Agencies) -> None:
    mine = f"/api/v1/domains/{agencies.mine}/dkim"
    with httpx.Client(base_url=live.url, timeout=60,
                      headers={"Authorization": f"Bearer {agencies.token}"}) as api:
        assert api.get(mine).json() == {"items": []}
        made = api.post(f"{mine}/generate", json={"algorithm": "rsa"})
        assert made.status_code == 201, made.text
        first = made.json()
        assert first["state"] == "active" and first["domain"] == agencies.mine
        dns = first["dns"]
        assert dns["name"] == f"{first['selector']}._domainkey.{agencies.mine}" and dns["type"] == "TXT"
        assert dns["text"].startswith("v=DKIM1; k=rsa; p=")
        assert len(dns["strings"]) == 2 and all(len(s) <= 255 for s in dns["strings"])
        assert "".join(dns["strings"]) == dns["text"]
        assert dns["zone_line"].startswith(f"{dns['name']}. IN TXT (") and _strings(dns["zone_line"]) == dns["strings"]

        again = api.post(f"{mine}/generate", json={})
        assert again.status_code == 409, again.text
        bad = api.post(f"{mine}/rotate", json={"algorithm": "dsa"})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "algorithm"

        rotated = api.post(f"{mine}/rotate", json={"selector": "next2026"})
        assert rotated.status_code == 201, rotated.text
        assert rotated.json()["state"] == "pending" and rotated.json()["selector"] == "next2026"
        assert api.get(f"{mine}/keys/next2026").json()["dns"]["text"].startswith("v=DKIM1; k=rsa; p=")

        activated = api.post(f"{mine}/keys/next2026/activate")
        assert activated.status_code == 200, activated.text
        assert activated.json()["state"] == "active"
        states = {k["selector"]: k["state"] for k in api.get(mine).json()["items"]}
        assert states == {first["selector"]: "retiring", "next2026": "active"}

        retired = api.post(f"{mine}/keys/{first['selector']}/retire")
        assert retired.status_code == 200 and retired.json()["state"] == "retired"
        assert not (Path(live.settings.dkim_key_dir) / agencies.mine / f"{first['selector']}.pem").exists()

        other = f"/api/v1/domains/{agencies.other}/dkim"
        before, audit = keys_of(live, agencies.other), audit_rows(live, agencies.other)
        selector = before[0].selector
        for method, path in (("GET", other), ("GET", f"{other}/keys/{selector}"), ("POST", f"{other}/generate"),
                             ("POST", f"{other}/rotate"), ("POST", f"{other}/keys/{selector}/activate"),
                             ("POST", f"{other}/keys/{selector}/retire")):
            r = api.request(method, path)
            assert r.status_code == 404, (method, path, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"
        assert keys_of(live, agencies.other) == before and audit_rows(live, agencies.other) == audit
    with httpx.Client(base_url=live.url, timeout=60,
                      headers={"Authorization": f"Bearer {agencies.operator_token}"}) as operator:
        assert [k["selector"] for k in operator.get(other).json()["items"]] == [selector]  # an operator: any domain
    assert audit_rows(live, agencies.mine) == [(action, agencies.admin, "api") for action in (
        "dkim.generate", "dkim.rotate", "dkim.activate", "dkim.retire")]


def test_a_switch_after_past_a_year_is_refused(live: Live, agencies: Agencies) -> None:
    """switch_after is refused past a year (365 days in seconds) as bad input naming the
    field: 10**12 seconds overflowed the date (a 500), and so did 10**30. Nothing is made
    or recorded; a year exactly is accepted."""
    mine = f"/api/v1/domains/{agencies.mine}/dkim"
    with httpx.Client(base_url=live.url, timeout=60,
                      headers={"Authorization": f"Bearer {agencies.token}"}) as api:
        assert api.post(f"{mine}/generate", json={"algorithm": "rsa"}).status_code == 201
        keys, audit = keys_of(live, agencies.mine), audit_rows(live, agencies.mine)
        for value in (10**12, 10**30, 365 * 86400 + 1, -1):
            r = api.post(f"{mine}/rotate", json={"switch_after": value})
            assert r.status_code == 400, (value, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            [error] = r.json()["errors"]
            assert error["field"] == "switch_after", r.text
            if value > 0:
                assert "31536000" in error["reason"], r.text
        assert keys_of(live, agencies.mine) == keys and audit_rows(live, agencies.mine) == audit
        year = api.post(f"{mine}/rotate", json={"switch_after": 365 * 86400})
        assert year.status_code == 201, year.text
        made = year.json()
        assert (datetime.fromisoformat(made["switch_after"]) - datetime.fromisoformat(made["created_at"])
                == timedelta(days=365))
