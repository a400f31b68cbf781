"""An address changes hands safely, over the JSON API: deleted accounts listed, restored and
handed over, accounts renamed, legal holds (operators only), the retention period of a
domain, and the purge; the same rules as the pages."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.web.context import Access
from tests.web.conftest import PASSWORD, Live, World
from tests.web.test_authorisation_matrix import all_routes

pytestmark = pytest.mark.sql

OPERATOR = Actor("test-setup", Role.SUPERADMIN, origin="test")


@pytest.fixture
def api(live: Live):  # type: ignore[no-untyped-def]
    def call(token: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=live.url, timeout=60) as http:
            return http.request(method, "/api/v1" + path, headers=headers, **kw)
    return call


def new_account(live: Live, domain: str, local: str, **kw: str) -> str:
    email = f"{local}-{uuid.uuid4().hex[:6]}@{domain}"
    with Services.open(live.settings, OPERATOR) as svc:
        svc.accounts.add(email, PasswordInput(plain=PASSWORD), **kw)  # type: ignore[arg-type]
    return email


def field_of(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["errors"][0]["field"])


def test_delete_list_show_and_restore(api, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    token = world.tokens[world.admin_a]
    email = new_account(live, world.a, "api-leaver")
    account = api(token, "GET", f"/accounts/{email}").json()
    assert account["mailbox_id"] and account["hold_reason"] == ""

    deleted = api(token, "DELETE", f"/accounts/{email}")
    assert deleted.status_code == 200
    kept = deleted.json()
    assert kept["address"] == email and kept["mailbox_id"] == account["mailbox_id"]
    assert kept["deleted_by"] == world.admin_a and kept["hold_reason"] == "" and kept["purging"] is False

    listed = api(token, "GET", f"/domains/{world.a}/deleted").json()
    assert listed["total"] >= 1 and kept["mailbox_id"] in [r["mailbox_id"] for r in listed["items"]]
    assert listed["items"] == sorted(listed["items"], key=lambda r: r["deleted_at"], reverse=True)
    assert api(token, "GET", f"/deleted/{kept['mailbox_id']}").json() == kept
    assert api(token, "GET", f"/deleted/{email}").json() == kept  # deleted once: its address finds it too

    restored = api(token, "POST", f"/deleted/{kept['mailbox_id']}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["account"]["email"] == email
    assert restored.json()["account"]["mailbox_id"] == kept["mailbox_id"] and restored.json()["dropped_aliases"] == []
    assert api(token, "GET", f"/deleted/{kept['mailbox_id']}").status_code == 404


def test_restore_onto_a_taken_address_then_under_another(api, live: Live,  # type: ignore[no-untyped-def]
                                                          world: World) -> None:
    token = world.tokens[world.admin_a]
    email = new_account(live, world.a, "api-taken")
    mailbox = api(token, "DELETE", f"/accounts/{email}").json()["mailbox_id"]
    assert api(token, "POST", f"/domains/{world.a}/accounts",
               json={"local_part": email.split("@")[0]}).status_code == 201  # the address is free: taken again
    taken = api(token, "POST", f"/deleted/{mailbox}/restore", json={})
    assert taken.status_code == 409 and email in taken.json()["detail"]
    other_domain = api(token, "POST", f"/deleted/{mailbox}/restore", json={"as": f"back@{world.b}"})
    assert other_domain.status_code == 400 and field_of(other_domain) == "as"
    assert field_of(api(token, "POST", f"/deleted/{mailbox}/restore", json={"as": 7})) == "as"
    new = f"api-back-{uuid.uuid4().hex[:6]}@{world.a}"
    restored = api(token, "POST", f"/deleted/{mailbox}/restore", json={"as": new})
    assert restored.status_code == 200 and restored.json()["account"]["email"] == new
    assert restored.json()["account"]["mailbox_id"] == mailbox
    assert api(token, "GET", f"/accounts/{email}").json()["mailbox_id"] != mailbox


def test_handover(api, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    token = world.tokens[world.admin_a]
    leaver = new_account(live, world.a, "api-retired")
    successor = new_account(live, world.a, "api-successor")
    mailbox = api(token, "DELETE", f"/accounts/{leaver}").json()["mailbox_id"]
    assert field_of(api(token, "POST", f"/deleted/{mailbox}/handover", json={})) == "to"
    assert api(token, "POST", f"/deleted/{mailbox}/handover", json={"to": world.user_b}).status_code == 404
    done = api(token, "POST", f"/deleted/{mailbox}/handover", json={"to": successor})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["successor"] == successor and body["folder"] == f"Archive/{leaver}" and body["messages"] == 0
    assert body["deleted"]["mailbox_id"] == mailbox
    again = api(token, "POST", f"/deleted/{mailbox}/handover", json={"to": successor}).json()
    assert again["folder"] == f"Archive/{leaver} (2)"  # the first copy stays where it is


def test_rename(api, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    token = world.tokens[world.admin_a]
    alias = f"api-desk-{uuid.uuid4().hex[:6]}@{world.a}"
    new_account(live, world.a, "api-holder", aliases=alias)
    email = new_account(live, world.a, "api-renamed")
    mailbox = api(token, "GET", f"/accounts/{email}").json()["mailbox_id"]
    taken = api(token, "POST", f"/accounts/{email}/rename", json={"new_address": alias})
    assert taken.status_code == 409, taken.text
    assert field_of(api(token, "POST", f"/accounts/{email}/rename", json={"new_address": email})) == "new_address"
    assert field_of(api(token, "POST", f"/accounts/{email}/rename", json={})) == "new_address"
    assert api(token, "POST", f"/accounts/{email}/rename",
               json={"new_address": f"x-{uuid.uuid4().hex[:6]}@{world.b}"}).status_code == 404  # not its domain
    new = f"api-new-{uuid.uuid4().hex[:6]}@{world.a}"
    renamed = api(token, "POST", f"/accounts/{email}/rename", json={"new_address": new, "keep_old_as_alias": True})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["email"] == new and renamed.json()["mailbox_id"] == mailbox
    assert email in renamed.json()["aliases"]
    assert api(token, "GET", f"/accounts/{email}").status_code == 404


def test_holds_are_the_operators(api, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    admin, operator = world.tokens[world.admin_a], world.tokens[world.operator]
    email = new_account(live, world.a, "api-held")
    mailbox = api(admin, "DELETE", f"/accounts/{new_account(live, world.a, 'api-held-deleted')}").json()["mailbox_id"]
    for path in (f"/accounts/{email}/hold", f"/deleted/{mailbox}/hold", f"/domains/{world.a}/hold"):
        refused = api(admin, "POST", path, json={"reason": "mine"})
        assert refused.status_code == 403 and refused.json()["type"] == "/api/v1/problems/forbidden", path
        assert api(admin, "POST", path.replace("/hold", "/release")).status_code == 403, path
    assert api(admin, "GET", f"/accounts/{email}").json()["hold_reason"] == ""

    assert field_of(api(operator, "POST", f"/accounts/{email}/hold", json={"reason": " "})) == "reason"
    held = api(operator, "POST", f"/accounts/{email}/hold", json={"reason": "คดีหมายเลข 42/2569"})
    assert held.status_code == 200 and held.json() == {"kind": "account", "name": email, "domain": world.a,
                                                        "mailbox_id": held.json()["mailbox_id"],
                                                        "hold_reason": "คดีหมายเลข 42/2569"}
    assert api(admin, "GET", f"/accounts/{email}").json()["hold_reason"] == "คดีหมายเลข 42/2569"  # it may read it
    assert api(operator, "POST", f"/accounts/{email}/release").json()["hold_reason"] == ""

    deleted_hold = api(operator, "POST", f"/deleted/{mailbox}/hold", json={"reason": "ขอโดย สตง."}).json()
    assert deleted_hold["kind"] == "deleted account" and deleted_hold["mailbox_id"] == mailbox
    assert api(admin, "GET", f"/deleted/{mailbox}").json()["hold_reason"] == "ขอโดย สตง."
    assert api(operator, "POST", f"/deleted/{mailbox}/release").json()["hold_reason"] == ""


def test_a_held_domain_cannot_be_deleted(api, world: World) -> None:  # type: ignore[no-untyped-def]
    operator = world.tokens[world.operator]
    name = f"apihold{uuid.uuid4().hex[:8]}.go.th"
    assert api(operator, "POST", "/domains", json={"name": name}).status_code == 201
    held = api(operator, "POST", f"/domains/{name}/hold", json={"reason": "คำสั่งศาล"})
    assert held.status_code == 200 and held.json()["kind"] == "domain"
    assert api(operator, "GET", f"/domains/{name}").json()["hold_reason"] == "คำสั่งศาล"
    refused = api(operator, "DELETE", f"/domains/{name}")
    assert refused.status_code == 400 and field_of(refused) == "domain"
    assert api(operator, "POST", f"/domains/{name}/release").json()["hold_reason"] == ""
    assert api(operator, "DELETE", f"/domains/{name}").status_code == 204


def test_retention_days_of_a_domain(api, world: World) -> None:  # type: ignore[no-untyped-def]
    operator = world.tokens[world.operator]
    name = f"apiret{uuid.uuid4().hex[:8]}.go.th"
    bad = api(operator, "POST", "/domains", json={"name": name, "retention_days": 3651})
    assert bad.status_code == 400 and field_of(bad) == "retention_days"
    created = api(operator, "POST", "/domains", json={"name": name, "retention_days": 7})
    assert created.status_code == 201 and created.json()["limits"]["retention_days"] == 7
    assert created.json()["hold_reason"] == ""
    for value in (4000, -1, "30", 2.5, True):
        refused = api(operator, "PATCH", f"/domains/{name}", json={"retention_days": value})
        assert refused.status_code == 400 and field_of(refused) == "retention_days", value
    assert api(operator, "PATCH", f"/domains/{name}", json={"retention_days": 0}).json()["limits"][
        "retention_days"] == 0
    assert api(operator, "GET", f"/domains/{name}").json()["limits"]["retention_days"] == 0
    admin = world.tokens[world.admin_a]
    assert api(admin, "PATCH", f"/domains/{world.a}", json={"retention_days": 1}).status_code == 403
    assert api(admin, "GET", f"/domains/{world.a}").json()["limits"]["retention_days"] == 30


def test_another_domains_deleted_accounts_are_not_found(api, world: World) -> None:  # type: ignore[no-untyped-def]
    token = world.tokens[world.admin_a]
    assert api(token, "GET", f"/domains/{world.b}/deleted").status_code == 404
    assert api(token, "GET", f"/deleted/{world.deleted_b}").status_code == 404
    assert api(token, "GET", f"/deleted/former@{world.b}").status_code == 404
    assert api(token, "POST", f"/deleted/{world.deleted_b}/restore").status_code == 404
    assert api(token, "POST", f"/deleted/{world.deleted_b}/handover", json={"to": world.user_a}).status_code == 404
    operator = world.tokens[world.operator]
    assert api(operator, "GET", f"/deleted/{world.deleted_b}").json()["address"] == f"former@{world.b}"


def test_the_purge(api, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    operator = world.tokens[world.operator]
    name = f"apipurge{uuid.uuid4().hex[:8]}.go.th"
    assert api(operator, "POST", "/domains", json={"name": name, "retention_days": 0}).status_code == 201
    gone = api(operator, "DELETE", f"/accounts/{new_account(live, name, 'gone')}").json()["mailbox_id"]
    held = api(operator, "DELETE", f"/accounts/{new_account(live, name, 'held')}").json()["mailbox_id"]
    api(operator, "POST", f"/deleted/{held}/hold", json={"reason": "คดีที่ 7"})
    assert api(world.tokens[world.admin_a], "POST", "/purge", json={"dry_run": True}).status_code == 403

    dry = api(operator, "POST", "/purge")  # no body: a dry run
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert gone in [r["mailbox_id"] for r in dry.json()["purged"]]
    assert "hold" in {k["mailbox_id"]: k["reason"] for k in dry.json()["kept"]}[held]
    assert api(operator, "GET", f"/deleted/{gone}").status_code == 200

    done = api(operator, "POST", "/purge", json={"dry_run": False})
    assert done.status_code == 200 and done.json()["dry_run"] is False
    assert gone in [r["mailbox_id"] for r in done.json()["purged"]]
    assert api(operator, "GET", f"/deleted/{gone}").status_code == 404
    assert api(operator, "GET", f"/deleted/{held}").status_code == 200
    assert field_of(api(operator, "POST", "/purge", json={"dry_run": "no"})) == "dry_run"


def test_every_endpoint_is_in_the_openapi_document(api, live: Live) -> None:  # type: ignore[no-untyped-def]
    doc = api(None, "GET", "/openapi.json").json()
    missing = []
    for path, method, access in all_routes(live):
        if access is Access.API and path != "/api/v1/openapi.json":
            if method.lower() not in doc["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    paths = doc["paths"]
    body = lambda path: paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]  # noqa: E731
    assert set(body("/api/v1/accounts/{email}/rename")["properties"]) == {"new_address", "keep_old_as_alias"}
    assert body("/api/v1/deleted/{mailbox_id}/handover")["required"] == ["to"]
    assert set(body("/api/v1/deleted/{mailbox_id}/restore")["properties"]) == {"as"}
    assert body("/api/v1/domains/{domain}/hold")["required"] == ["reason"]
    assert set(body("/api/v1/purge")["properties"]) == {"dry_run"}
    assert "retention_days" in paths["/api/v1/domains/{domain}"]["patch"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]
    deleted = paths["/api/v1/accounts/{email}"]["delete"]["responses"]["200"]["content"]["application/json"]
    assert deleted["schema"] == {"$ref": "#/components/schemas/DeletedAccount"}
    account = doc["components"]["schemas"]["Account"]["properties"]
    assert {"mailbox_id", "hold_reason"} <= set(account)
