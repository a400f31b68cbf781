"""Shared role mailboxes (issue 17) in the admin web and the JSON API: a domain admin makes
a shared mailbox, gives a member rights and removes it, in Thai and English; bad input names
its field (a member from another agency, an unknown right) and stores nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql


def members(live: Live, address: str) -> list[tuple[str, str]]:
    with Services.open(live.settings, Actor("check", Role.SUPERADMIN, origin="test")) as svc:
        return [(m.email, m.rights_text) for m in svc.shared.show(address).members]


def staff(live: Live, world: World) -> str:
    email = f"staff-{uuid.uuid4().hex[:6]}@{world.a}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.accounts.add(email, PasswordInput(plain=PASSWORD))
    return email


def test_a_domain_admin_manages_a_shared_mailbox_in_the_web(client: Client, live: Live, world: World) -> None:
    member = staff(live, world)
    local = f"saraban-{uuid.uuid4().hex[:6]}"
    client.login_admin(world.admin_a)
    client.get(f"/domains/{world.a}/shared/new")
    created = client.post(f"/domains/{world.a}/shared/new", {"local_part": local, "name": "สารบรรณกลาง"})
    assert created.status_code == 303, created.text
    address = f"{local}@{world.a}"
    client.get(f"/shared/{address}/members")
    saved = client.post(f"/shared/{address}/members", {"member": member, "rights": ["read", "send-as"]})  # type: ignore[dict-item]
    assert saved.status_code == 303, saved.text
    assert members(live, address) == [(member, "read,send-as")]
    page = client.get(f"/domains/{world.a}/shared").text
    assert address in page and member in page and "สารบรรณกลาง" in page
    removed = client.post(f"/shared/{address}/members/remove", {"member": member})
    assert removed.status_code == 303
    assert members(live, address) == []


@pytest.mark.parametrize("lang", ["en", "th"])
def test_a_member_from_another_agency_is_refused_on_the_page_naming_the_field(
        client: Client, live: Live, world: World, lang: str) -> None:
    client.http.cookies.set("mgt_lang", lang)
    client.login_admin(world.admin_a)
    address = f"saraban@{world.a}"
    before = members(live, address)
    client.get(f"/shared/{address}/members")
    refused = client.post(f"/shared/{address}/members", {"member": world.user_b, "rights": "read"})
    assert refused.status_code == 400
    expected = "ไม่ใช่บัญชีของ" if lang == "th" else "is not an account of"
    assert expected in refused.text and world.user_b in refused.text
    assert members(live, address) == before


def test_the_api_manages_shared_mailboxes_with_the_admins_rights(live: Live, world: World) -> None:
    member = staff(live, world)
    local = f"saraban-{uuid.uuid4().hex[:6]}"
    address = f"{local}@{world.a}"
    with httpx.Client(base_url=live.url + "/api/v1", timeout=60,
                      headers={"Authorization": f"Bearer {world.tokens[world.admin_a]}"}) as api:
        made = api.post(f"/domains/{world.a}/shared", json={"local_part": local, "name": "สารบรรณ"})
        assert made.status_code == 201, made.text
        assert made.json()["address"] == address and made.json()["members"] == []
        put = api.put(f"/shared/{address}/members/{member}", json={"rights": ["write", "send-as"]})
        assert put.status_code == 200, put.text
        assert put.json() == {"email": member, "rights": ["write", "send-as"], "active": True}
        assert api.get(f"/shared/{address}").json()["members"] == [put.json()]
        listed = api.get(f"/domains/{world.a}/shared").json()["items"]
        assert address in [s["address"] for s in listed]
        # bad input: the field named, nothing stored
        for body, field in (({"rights": ["read", "admin"]}, "rights"), ({"rights": []}, "rights")):
            r = api.put(f"/shared/{address}/members/{member}", json=body)
            assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, r.text
        r = api.put(f"/shared/{address}/members/{world.user_b}", json={"rights": ["read"]})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "member"
        assert r.json()["errors"][0]["code"] == "shared_member_other_domain"
        assert members(live, address) == [(member, "write,send-as")]
        # another agency's shared mailbox: as if it did not exist
        assert api.get(f"/shared/saraban@{world.b}").status_code == 404
        assert api.get(f"/domains/{world.b}/shared").status_code == 404
        assert api.delete(f"/shared/{address}/members/{member}").status_code == 204
        assert members(live, address) == []
        assert api.delete(f"/shared/{address}").status_code == 204  # empty: removed
        assert api.get(f"/shared/{address}").status_code == 404
