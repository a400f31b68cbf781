"""The authorisation matrix, over every route of the app's own route table (so a new
route cannot escape it): a domain admin of A acting on B gets 404 and changes
nothing; a mail user reaches nothing admin-only; anonymous visitors reach only public
routes; an API token never exceeds its admin's rights."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mailgothai.core.models import Role
from mailgothai.core.spam import Scan
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.spool import Envelope, Target, new_queue_id
from mailgothai.services.actor import Actor
from mailgothai.services.password_lifecycle import PasswordLifecycleService
from mailgothai.services.password_policy import PasswordPolicyService
from mailgothai.services.registry import Services
from mailgothai.services.second_factor import UserSecurity, has_second_factor
from mailgothai.store.models import AuditRecord
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles
from mailgothai.store.web_state import ApiToken
from mailgothai.web.context import Access
from tests.web.conftest import PASSWORD, Client, Live, World, finished_import_of_b

pytestmark = pytest.mark.sql

PARAM = re.compile(r"{(\w+)}")
LISTED = "listed.example"  # on B's block list (issue 18)


def all_routes(live: Live) -> list[tuple[str, str, Access]]:
    out = []
    for route in live.app.routes:  # type: ignore[attr-defined]
        access = getattr(route, "access", None)
        assert isinstance(access, Access), f"route {route.path} declares no access (see web/context.py: Access)"
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                out.append((route.path, method, access))
    return out


def values_for(world: World, live: Live, target: str) -> dict[str, str]:
    """Path parameters pointing into domain `target` (B: someone else's; A: the admin's own)."""
    with live.state.backends.store.session() as session:
        operator_token = session.scalars(select(ApiToken.id).where(ApiToken.admin_login == world.operator)).first()
    if target == "b":
        alias_b = f"renamed-{world.b.split('.')[0][1:]}.go.th"  # an alias domain of B (issue 17), made once
        with Services.open(live.settings, Actor("matrix", Role.SUPERADMIN, origin="test")) as svc:
            if not svc.domain_routing.alias_domains(world.b):
                svc.domain_routing.add_alias_domain(alias_b, world.b)
            if not svc.spam.rules(world.b):  # a block list entry of B (issue 18), made once
                svc.spam.add_rule(world.b, "block", LISTED)
            held_b = [h.id for h in svc.quarantine.listing(world.b)] or [quarantined(live, world.user_b)]
            keys_b = svc.dkim.list(world.b) or [svc.dkim.generate(world.b)]  # a DKIM key of B (issue 19), made once
        own_apps = UserSecurity(live.state.backends, f"staff1@{world.b}")  # an app password of B's user (issue 20)
        apps_b = ([v.app for v in own_apps.app_passwords()]
                  or [own_apps.create_app_password("matrix phone", PASSWORD)[0]])
        return {"alias": alias_b, "name": alias_b,
                "domain": world.b, "email": f"staff1@{world.b}", "address": world.alias_b, "login": world.operator,
                "token_id": operator_token or "0" * 16, "lang": "th",
                "job_id": str(finished_import_of_b(live.settings, world)), "mailbox_id": world.deleted_b,
                "kind": "block", "pattern": LISTED, "id": held_b[0], "selector": keys_b[0].selector,
                "app_id": apps_b[0].id}
    return {"alias": f"alias-{world.a}", "name": f"alias-{world.a}",
            "domain": world.a, "email": world.user_a, "address": f"nobody@{world.a}", "login": world.admin_a,
            "token_id": "0" * 16, "lang": "th", "job_id": "0", "mailbox_id": world.deleted_a,
            "kind": "block", "pattern": LISTED, "id": "0" * 22, "selector": "none",
            "app_id": "0" * 8}


def quarantined(live: Live, to: str) -> str:
    """A message kept in the quarantine for `to` (issue 18), as the relay keeps it."""
    store = live.state.backends.store
    quarantine = Quarantine(QuarantineFiles(live.settings.quarantine_path), QuarantineIndex(store),
                            live.settings.relay_hostname)
    envelope = Envelope(new_queue_id(), "win@lottery.example", (Target(to, to, True),), time.time())
    return quarantine.keep(envelope, b"Subject: prize\r\n\r\nclaim it\r\n", Scan("no action", 12.0),
                           to.split("@")[1], 30)


def fill(path: str, values: dict[str, str]) -> str:
    if "/shared/{address}" in path:  # a shared mailbox's routes (issue 17): the domain's saraban@
        values = {**values, "address": f"saraban@{values['domain']}"}
    names = PARAM.findall(path)
    unknown = [n for n in names if n not in values]
    assert not unknown, f"{path}: the matrix has no value for {unknown}; add it to values_for()"
    return PARAM.sub(lambda m: values[m.group(1)], path)


def form_body(world: World) -> dict[str, str]:
    return {"local_part": "intruder", "given_name": "x", "quota": "1G", "to": world.user_b, "password_mode": "generate",
            "name": "intruder", "login": world.admin_a, "confirm": world.b, "force": "1", "code": "123456",
            "description": "changed", "max_accounts": "99", "status": "disabled", "display_name": "x",
            "domains": world.b, "role": "domain_admin", "as": f"intruder@{world.b}",
            "new_address": f"intruder@{world.b}",
            "keep_old_as_alias": "1", "reason": "intruder's hold", "retention_days": "0",
            "catch_all": world.user_b, "alias_domain": "intruder.go.th",
            "kind": "block", "pattern": LISTED, "junk_score": "1", "reject_score": "", "quarantine_days": "1",
            "must_change_on_create": "1", "max_age_days": "1", "warn_days": "0"}


UPLOADS = ("/api/v1/imports", "/api/v1/domain-imports")  # the body is a CSV file


def api_body(path: str, method: str, world: World) -> dict[str, Any] | bytes | None:
    if method in ("GET", "DELETE"):
        return None
    if path == "/api/v1/domain-imports":
        return f"domain,description\r\n{world.b},changed\r\nintruder.go.th,new\r\n".encode()
    if path in UPLOADS:
        return f"email,given_name,quota\r\nstaff0@{world.b},changed,1G\r\nintruder@{world.b},x,1G\r\n".encode()
    bodies = {
        ("POST", "/api/v1/domains"): {"name": "intruder.go.th"},
        ("PATCH", "/api/v1/domains/{domain}"): {"description": "changed", "catch_all": world.user_b},
        ("POST", "/api/v1/domains/{domain}/alias-domains"): {"name": "intruder.go.th"},
        ("POST", "/api/v1/domains/{domain}/accounts"): {"local_part": "intruder"},
        ("POST", "/api/v1/domains/{domain}/aliases"): {"local_part": "intruder", "members": [world.user_b]},
        ("PATCH", "/api/v1/accounts/{email}"): {"given_name": "changed"},
        ("POST", "/api/v1/accounts/{email}/password"): {"generate_password": True},
        ("PATCH", "/api/v1/aliases/{address}"): {"members": [world.user_b]},
        ("POST", "/api/v1/domains/{domain}/shared"): {"local_part": "intruder"},
        ("PUT", "/api/v1/shared/{address}/members/{email}"): {"rights": ["read", "send-as"]},
        ("POST", "/api/v1/admins"): {"login": "intruder", "role": "superadmin"},
        ("PATCH", "/api/v1/admins/{login}"): {"display_name": "changed"},
        ("POST", "/api/v1/admins/{login}/password"): {"generate_password": True},
        ("POST", "/api/v1/tokens"): {"name": "own token", "password": PASSWORD},
        ("POST", "/api/v1/accounts/{email}/rename"): {"new_address": f"intruder@{world.b}"},
        ("POST", "/api/v1/accounts/{email}/hold"): {"reason": "intruder's hold"},
        ("POST", "/api/v1/accounts/{email}/filters"): {"rules": [{"field": "sender", "contains": "@",
                                                                  "action": "discard"}]},
        ("POST", "/api/v1/deleted/{mailbox_id}/restore"): {"as": f"intruder@{world.b}"},
        ("POST", "/api/v1/deleted/{mailbox_id}/handover"): {"to": f"staff0@{world.b}"},
        ("POST", "/api/v1/deleted/{mailbox_id}/hold"): {"reason": "intruder's hold"},
        ("POST", "/api/v1/domains/{domain}/hold"): {"reason": "intruder's hold"},
        ("POST", "/api/v1/purge"): {"dry_run": False},
        ("PATCH", "/api/v1/domains/{domain}/spam-policy"): {"junk_score": 1, "reject_score": None},
        ("POST", "/api/v1/domains/{domain}/sender-rules"): {"kind": "allow", "pattern": "intruder.example"},
        ("POST", "/api/v1/accounts/{email}/sender-rules"): {"kind": "allow", "pattern": "intruder.example"},
        ("PATCH", "/api/v1/spam/defaults"): {"junk_score": 1, "lowest_score": 0},
        ("PATCH", "/api/v1/domains/{domain}/password-lifecycle"): {"must_change_on_create": True,
                                                                  "max_age_days": 1, "warn_days": 0},
    }
    return bodies.get((method, path), {})


def api_request(client: httpx.Client, method: str, url: str, body: dict[str, Any] | bytes | None,
                headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, bytes):
        return client.request(method, url, content=body, headers={**(headers or {}), "Content-Type": "text/csv"})
    return client.request(method, url, json=body, headers=headers)


def snapshot(live: Live, world: World) -> dict[str, Any]:
    """Everything of domain B and of the admins, as the directory and the SQL store hold it."""
    with Services.open(live.settings, Actor("snapshot", Role.SUPERADMIN, origin="test")) as svc:
        data: dict[str, Any] = {
            "domain": svc.domains.get(world.b),
            "accounts": sorted(svc.accounts.iter_domain(world.b), key=lambda a: a.email),
            "aliases": sorted(svc.aliases.iter_domain(world.b), key=lambda a: a.address),
            "admins": sorted(svc.admins.list(), key=lambda a: a.login),
            "domains": sorted(d.name for d in svc.domains.list()),
            "deleted": svc.lifecycle.deleted(world.b),
            "alias_domains": svc.domain_routing.alias_domains(world.b),
            "shared": [listing.as_dict() for listing in svc.shared.for_domain(world.b)],
            "spam_policy": svc.spam.show(world.b), "spam_defaults": svc.spam.defaults(),  # issue 18
            "sender_rules": [svc.spam.rules(owner) for owner in (world.b, f"staff1@{world.b}", world.user_b)],
            "quarantine": svc.quarantine.listing(world.b),
            "dkim": svc.dkim.list(world.b),  # issue 19
            "password_policy": PasswordPolicyService(svc.backends, svc.actor).show(world.b),  # issue 20
            "password_lifecycle": PasswordLifecycleService(svc.backends, svc.actor).show(world.b),
            "app_passwords": [view.app for view in UserSecurity(svc.backends, f"staff1@{world.b}").app_passwords()],
            "second_factor": has_second_factor(svc.backends, f"staff1@{world.b}"),
        }
    with live.state.backends.store.session() as session:
        data["audit_b"] = session.query(AuditRecord).filter(AuditRecord.domain == world.b).count()
        data["audit_admins"] = session.query(AuditRecord).filter(AuditRecord.object_type == "admin").count()
        data["tokens"] = sorted((t.id, t.revoked_at is None) for t in session.scalars(
            select(ApiToken).where(ApiToken.admin_login == world.operator)).all())
    return data


DOMAIN_SCOPED = ("domain", "email", "address", "mailbox_id", "id")  # id: a quarantined message (issue 18)


def test_every_route_declares_access(live: Live) -> None:
    routes = all_routes(live)
    assert len(routes) > 60
    assert {a for _, _, a in routes} >= {Access.PUBLIC, Access.ADMIN, Access.OPERATOR, Access.USER, Access.API}


def test_domain_admin_of_a_acting_on_b_gets_404_and_changes_nothing(client: Client, live: Live,
                                                                     world: World) -> None:
    b = values_for(world, live, "b")  # first: it makes B's alias domain, which the snapshot then holds
    before = snapshot(live, world)
    client.login_admin(world.admin_a)
    client.get("/")
    token = world.tokens[world.admin_a]
    checked = 0
    for path, method, access in all_routes(live):
        if access in (Access.PUBLIC, Access.PENDING, Access.USER) or path.startswith("/static"):
            continue
        names = PARAM.findall(path)
        url = fill(path, b)
        if access is Access.API:
            body = api_body(path, method, world)
            r = api_request(client.http, method, url, body, {"Authorization": f"Bearer {token}"})
        elif method == "GET":
            r = client.get(url, params={"q": "malee", "domain": world.b})
        else:
            r = client.post(url, form_body(world))
        if any(n in DOMAIN_SCOPED for n in names):
            assert r.status_code == 404, f"{method} {path} → {r.status_code}"
        elif access is Access.OPERATOR or (access is Access.API and names == ["login"]):
            assert r.status_code in (403, 404), f"{method} {path} → {r.status_code}"
        elif names in (["token_id"], ["job_id"]):
            assert r.status_code == 404, f"{method} {path} → {r.status_code}"
        elif access is Access.API and path in ("/api/v1/admins", "/api/v1/domains", "/api/v1/domain-imports",
                                               "/api/v1/purge") and method == "POST":
            assert r.status_code == 403, f"{method} {path} → {r.status_code}"
        elif access is Access.API and path == "/api/v1/admins":
            assert r.status_code == 403
        else:  # the admin's own views (lists, search, audit, security): B must not show
            assert world.b not in r.text and world.user_b not in r.text, f"{method} {path} shows B"
        checked += 1
    assert checked > 50
    assert snapshot(live, world) == before


def test_the_same_domain_admin_does_reach_its_own_domain(client: Client, live: Live, world: World) -> None:
    """The matrix above could pass by refusing everything: its own domain A answers."""
    client.login_admin(world.admin_a)
    a = values_for(world, live, "a")
    for path in ("/domains/{domain}", "/domains/{domain}/accounts", "/domains/{domain}/aliases",
                 "/accounts/{email}", "/accounts/{email}/edit", "/domains/{domain}/accounts/new",
                 "/domains/{domain}/deleted", "/deleted/{mailbox_id}", "/accounts/{email}/rename",
                 "/domains/{domain}/dkim"):
        assert client.get(fill(path, a)).status_code == 200, path
    r = httpx.get(live.url + f"/api/v1/domains/{world.a}/accounts",
                  headers={"Authorization": f"Bearer {world.tokens[world.admin_a]}"})
    assert r.status_code == 200 and r.json()["total"] >= 1


def test_mail_user_reaches_nothing_admin_only(client: Client, live: Live, world: World) -> None:
    before = snapshot(live, world)
    assert client.login_user(world.user_b).status_code == 303
    client.get("/me")
    b = values_for(world, live, "b")
    for path, method, access in all_routes(live):
        if access in (Access.PUBLIC, Access.USER) or path.startswith("/static"):
            continue
        url = fill(path, b)
        if access is Access.API:  # a session cookie is no API credential
            r = api_request(client.http, method, url, api_body(path, method, world))
            assert r.status_code == 401, f"{method} {path} → {r.status_code}"
        elif method == "GET":
            r = client.get(url)
            assert r.status_code in (303, 404), f"{method} {path} → {r.status_code}"
        else:
            r = client.post(url, form_body(world))
            assert r.status_code in (303, 404), f"{method} {path} → {r.status_code}"
        assert world.user_b not in r.text or r.status_code == 404 and "<h1>" in r.text
    assert snapshot(live, world) == before


def test_anonymous_reaches_only_public_routes(client: Client, live: Live, world: World) -> None:
    before = snapshot(live, world)
    b = values_for(world, live, "b")
    client.get("/login")
    for path, method, access in all_routes(live):
        if access is Access.PUBLIC or path.startswith("/static"):
            continue
        url = fill(path, b)
        if access is Access.API:
            r = api_request(client.http, method, url, api_body(path, method, world))
            assert r.status_code == 401, f"{method} {path} → {r.status_code}"
        else:
            r = client.get(url) if method == "GET" else client.post(url, form_body(world))
            assert r.status_code == 303 and "/login" in r.headers["location"], f"{method} {path} → {r.status_code}"
    assert snapshot(live, world) == before


@pytest.mark.parametrize("who", ["operator", "admin_a"])
def test_api_token_equals_its_admin_on_every_get(live: Live, world: World, who: str) -> None:
    """For every API GET, the token's answer is its admin's: an operator's token sees B,
    a domain admin's token does not (404/403), and never a 5xx."""
    login = getattr(world, who)
    b = values_for(world, live, "b")
    for path, method, access in all_routes(live):
        if access is not Access.API or method != "GET":
            continue
        r = httpx.get(live.url + fill(path, b), params={"q": "malee"},
                      headers={"Authorization": f"Bearer {world.tokens[login]}"}, timeout=60)
        assert r.status_code < 500, f"{path} → {r.status_code}"
        if who == "operator":
            assert r.status_code == 200, f"{path} → {r.status_code} {r.text[:200]}"
        elif PARAM.findall(path) and PARAM.findall(path)[0] in DOMAIN_SCOPED:
            assert r.status_code == 404, f"{path} → {r.status_code}"
        else:
            assert r.status_code in (200, 403, 404) and world.b not in r.text, path
