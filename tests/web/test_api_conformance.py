"""The API does what its OpenAPI document says, case by case (the property-based test in
test_api_schemathesis.py looks for more): a body the document requires is required; a
password reset is an explicit request, never the default of an empty one; a 405 names
the methods the path has; requests the document allows are not refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jsonschema_rs
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Live, World

pytestmark = pytest.mark.sql

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def api(live: Live, world: World):  # type: ignore[no-untyped-def]
    def call(method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or world.tokens[world.operator]}"}
        with httpx.Client(base_url=live.url, timeout=60) as http:
            return http.request(method, "/api/v1" + path, headers=headers, **kw)
    return call


def fields(r: httpx.Response) -> list[str]:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return [e["field"] for e in r.json()["errors"]]


def someone(live: Live, world: World) -> tuple[str, str]:
    """A fresh domain admin of A and a fresh account of A, both with PASSWORD."""
    tag = uuid.uuid4().hex[:8]
    login, email = f"conf-{tag}", f"conf.{tag}@{world.a}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(world.a,))
        svc.accounts.add(email, PasswordInput(plain=PASSWORD))
    return login, email


def test_a_patch_without_a_body_is_refused(api, live: Live, world: World) -> None:  # type: ignore[no-untyped-def]
    login, email = someone(live, world)
    for path in (f"/admins/{login}", f"/accounts/{email}", f"/domains/{world.a}", f"/aliases/{world.alias_b}"):
        r = api("PATCH", path)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert fields(r) == ["body"]
    assert api("PATCH", f"/admins/{login}", json={"display_name": "ชื่อใหม่"}).json()["display_name"] == "ชื่อใหม่"


def test_a_password_reset_is_an_explicit_request(api, live: Live, world: World,  # type: ignore[no-untyped-def]
                                                 new_client) -> None:
    login, email = someone(live, world)
    for path in (f"/admins/{login}/password", f"/accounts/{email}/password"):
        for empty in ({}, {"content": b""}, {"json": {}}, {"json": {"generate_password": False}}):
            r = api("POST", path, **empty)
            assert r.status_code == 400, (path, empty, r.text)
            assert "generated_password" not in r.text
            assert fields(r) in (["body"], ["password"]), (path, empty, r.text)
    # nothing changed: both still log in with their password
    assert new_client().login_admin(login).status_code == 303
    assert new_client().login_user(email).status_code == 303
    # asked for, it is done
    made = api("POST", f"/accounts/{email}/password", json={"generate_password": True})
    assert made.status_code == 200 and len(made.json()["generated_password"]) >= 12
    assert api("POST", f"/admins/{login}/password", json={"password": "Another-pass-42"}).status_code == 200
    assert new_client().login_admin(login, "Another-pass-42").status_code == 303


def test_the_document_says_a_password_reset_needs_a_password_or_generate(api) -> None:  # type: ignore[no-untyped-def]
    doc = api("GET", "/openapi.json").json()
    for path in ("/api/v1/admins/{login}/password", "/api/v1/accounts/{email}/password"):
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        schema = body["content"]["application/json"]["schema"]
        valid = jsonschema_rs.Draft202012Validator(schema).is_valid
        assert valid({"generate_password": True}) and valid({"password": "Another-pass-42"})
        assert not valid({}) and not valid({"generate_password": False})
        assert not valid({"password": "Another-pass-42", "generate_password": True})


def test_the_document_says_what_a_password_change_of_ones_own_and_a_reset_need_and_do(api) -> None:  # type: ignore[no-untyped-def]
    """One's own admin password: with current_password (and code); a mail user's reset: its
    app passwords, recovery address and open sessions go too (since c572daa)."""
    doc = api("GET", "/openapi.json").json()
    own = doc["paths"]["/api/v1/admins/{login}/password"]["post"]
    schema = own["requestBody"]["content"]["application/json"]["schema"]
    assert {"current_password", "code"} <= set(schema["properties"]) and "current_password" in own["description"]
    valid = jsonschema_rs.Draft202012Validator(schema).is_valid
    assert valid({"password": "Another-pass-42", "current_password": "x", "code": "123456"})
    reset = doc["paths"]["/api/v1/accounts/{email}/password"]["post"]["description"]
    assert all(words in reset for words in ("app passwords", "recovery address", "sessions"))


def test_a_405_names_the_methods_the_path_has(api) -> None:  # type: ignore[no-untyped-def]
    doc = api("GET", "/openapi.json").json()
    checked = 0
    for path, item in doc["paths"].items():
        documented = {m.upper() for m in item}
        allowed = documented | ({"HEAD"} if "GET" in documented else set())
        url = path.removeprefix("/api/v1").replace("{job_id}", "1")
        url = url.replace("{", "x").replace("}", "")  # any value: the method is refused before it is looked at
        for method in sorted(set(METHODS) - documented):
            r = api(method, url)
            assert r.status_code == 405, (method, path, r.status_code)
            assert {m.strip() for m in r.headers.get("allow", "").split(",")} == allowed, (method, path, r.headers)
            checked += 1
    assert checked > 100
    for method in ("PUT", "POST"):  # a problem, as every other answer of the API
        r = api(method, "/me")
        assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 405


def test_requests_the_document_allows_are_answered(api, world: World) -> None:  # type: ignore[no-untyped-def]
    # a path that is no address, domain or mailbox id names nothing: 404 (as for an address nobody has)
    for path in ("/accounts/0", "/aliases/0", "/domains/0", "/domains/0/accounts", "/deleted/0",
                 "/accounts/no-such-person", "/domains/0/usage"):
        r = api("GET", path)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # before=0: the records before the first one, none
    r = api("GET", "/audit", params={"before": "0"})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == [] and r.json()["next_before"] is None
    # a number past every record (even past the id column's range): every record is before it
    newest = api("GET", "/audit", params={"limit": "1"}).json()["items"]
    for before in ("2147483648", "9" * 40):
        r = api("GET", "/audit", params={"before": before, "limit": "1"})
        assert r.status_code == 200 and r.json()["items"] == newest, (before, r.text)
    # the operator sees every domain, other tests' somchai among them: ask for this world's one by its address
    found = api("GET", "/search", params={"q": f"somchai@{world.a}"}).json()["items"]
    assert [a["email"] for a in found] == [world.user_a]


def test_the_document_says_which_searches_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    """A search holding a control character (U+0080 ...) or only spaces is bad input, as in
    the CLI and the pages: the document says so, and the answer names the field."""
    doc = api("GET", "/openapi.json").json()
    [q] = [p for p in doc["paths"]["/api/v1/search"]["get"]["parameters"] if p["name"] == "q"]
    valid = jsonschema_rs.Draft202012Validator(q["schema"]).is_valid
    for text in ("\u0080", "som\u0087chai", "\u0000", " ", "  \t "):
        assert not valid(text), repr(text)
        r = api("GET", "/search", params={"q": text})
        assert r.status_code == 400 and fields(r) == ["search"], (repr(text), r.text)
    for text in ("somchai", "สมชาย", " som", "a" * 320):
        assert valid(text), text
        assert api("GET", "/search", params={"q": text}).status_code == 200
    assert not valid("a" * 321) and api("GET", "/search", params={"q": "a" * 321}).status_code == 400


def test_an_audit_time_out_of_range_is_refused(api, client, world: World) -> None:  # type: ignore[no-untyped-def]
    """A time filter past what a datetime holds once turned into UTC (the year 1, the last
    day of 9999 west of Greenwich) is bad input naming the field, on the API and the page
    (it was a 500: "year 0 is out of range")."""
    cases = ({"since": "0001-01-01"}, {"until": "0001-01-01T00:00"},
             {"until": "9999-12-31T23:59:59-12:00"}, {"since": "1000-06-01T00:00+07:00"})
    for params in cases:
        r = api("GET", "/audit", params=params)
        assert r.status_code == 400, (params, r.status_code, r.text)
        assert fields(r) == list(params), r.text
        assert "1970-01-01" in r.text, r.text
    client.login_admin(world.admin_a)
    for params in cases:
        page = client.get("/audit", params=params)
        assert page.status_code == 400, (params, page.status_code)
    # a time in Bangkok (or any zone) within the range is answered
    assert api("GET", "/audit", params={"since": "2024-01-01T00:00:00+07:00", "limit": "1"}).status_code == 200


def test_a_domain_count_past_its_maximum_is_refused(api, world: World) -> None:  # type: ignore[no-untyped-def]
    """max_accounts 10**30 was answered 200 (and then every authenticated RCPT of the
    domain overflowed SQLite): each count has a maximum, and the answer names the field."""
    before = api("GET", f"/domains/{world.a}").json()
    for name, value in (("max_accounts", 10**30), ("max_accounts", 2**63), ("hourly_send_limit", 10**30),
                        ("retention_days", 10**30), ("quota_pool", 10**30), ("default_quota", 10**30),
                        ("max_message_size", 10**30)):
        r = api("PATCH", f"/domains/{world.a}", json={name: value})
        assert r.status_code == 400, (name, r.status_code, r.text)
        assert fields(r) == [name], r.text
    assert api("GET", f"/domains/{world.a}").json() == before
