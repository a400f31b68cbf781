"""CSV import and export over /api/v1: the same service and rules as the CLI and the pages.
An agency's script uploads a file, reads the bad rows, confirms, follows the job, fetches
the result file; exports a domain and re-imports it unchanged; another agency's token
sees none of it."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql

HEADER = ["email", "given_name", "surname", "display_name", "password", "quota", "status"]


@dataclass
class Agency:
    domain: str
    admin: str
    token: str


@pytest.fixture
def agency(live: Live) -> Agency:
    """A fresh agency with a domain admin and its token (room for the imports below)."""
    tag = uuid.uuid4().hex[:8]
    domain, admin = f"imp{tag}.go.th", f"da-imp-{tag}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, description="กรมนำเข้า", max_accounts="200", quota_pool="500G")
        svc.admins.add(admin, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(domain,))
        token = TokenService(svc.backends, Actor(admin, Role.DOMAIN_ADMIN, frozenset({domain}), origin="test"))
        return Agency(domain, admin, token.create("hr system", password=PASSWORD).token)


@pytest.fixture
def api(live: Live) -> Iterator[Any]:
    http = httpx.Client(base_url=live.url + "/api/v1", timeout=60)

    def call(token: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return http.request(method, path, headers=headers, **kw)

    yield call
    http.close()


def staff_csv(domain: str, other_domain: str, good: int, encoding: str = "cp874") -> tuple[bytes, set[int]]:
    """`good` valid rows with Thai names, and four bad rows at known places."""
    rows = [[f"staff{i}@{domain}", "สมศรี", f"นำเข้า{i}", "", "", "", "active"] for i in range(good)]
    bad = {
        2: [f"quota.bad@{domain}", "x", "y", "", "", "lots", "active"],  # quota
        4: [f"outsider@{other_domain}", "x", "y", "", "", "", "active"],  # another agency's domain
        7: [rows[0][0], "x", "y", "", "", "", "active"],  # a duplicate of row 1
        9: [f"status.bad@{domain}", "x", "y", "", "", "", "maybe"],  # status
    }
    for n in sorted(bad):
        rows.insert(n - 1, bad[n])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode(encoding), set(bad)


def upload(api: Any, token: str, body: bytes, name: str = "staff.csv") -> httpx.Response:
    return api(token, "POST", "/imports", content=body, params={"file_name": name},
               headers={"Content-Type": "text/csv"})


def settled(api: Any, token: str, job_id: int, states: tuple[str, ...]) -> dict[str, Any]:
    """Poll the job as a client would, until it has stopped in one of `states`."""
    deadline = time.monotonic() + 180
    while True:
        job = api(token, "GET", f"/imports/{job_id}").json()
        if job["state"] in states and not job["running"]:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_upload_check_confirm_follow_and_fetch_the_result(api: Any, agency: Agency, world: World,
                                                          live: Live) -> None:
    body, bad = staff_csv(agency.domain, world.b, good=12)
    r = upload(api, agency.token, body)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    job = settled(api, agency.token, job_id, ("validated",))
    assert (job["to_create"], job["rejected"], job["created"]) == (12, 4, 0)
    assert job["encoding"] == "cp874"
    assert live.state.backends.accounts.find(f"staff0@{agency.domain}") is None  # checked, nothing written

    rows = api(agency.token, "GET", f"/imports/{job_id}/rows").json()
    assert {r["row"] for r in rows["items"]} == bad and rows["next_after"] is None
    by_row = {r["row"]: r for r in rows["items"]}
    assert by_row[2]["column"] == "quota"
    assert by_row[4]["column"] == "email" and f"domain {world.b} is not hosted here" in by_row[4]["reason"]
    assert by_row[9]["column"] == "status"
    first = api(agency.token, "GET", f"/imports/{job_id}/rows", params={"limit": 2}).json()
    rest = api(agency.token, "GET", f"/imports/{job_id}/rows", params={"after": first["next_after"]}).json()
    assert [r["row"] for r in first["items"] + rest["items"]] == sorted(bad)

    report = api(agency.token, "GET", f"/imports/{job_id}/report")
    assert report.headers["content-type"].startswith("text/csv")
    assert {int(r["row"]) for r in csv.DictReader(io.StringIO(report.content.decode("utf-8-sig")))} == bad

    assert api(agency.token, "GET", f"/imports/{job_id}/result").status_code == 404  # not applied yet
    assert api(agency.token, "POST", f"/imports/{job_id}/apply").status_code == 202
    job = settled(api, agency.token, job_id, ("done",))
    assert (job["created"], job["updated"], job["failed"], job["result_available"]) == (12, 0, 0, True)

    result = api(agency.token, "GET", f"/imports/{job_id}/result")
    assert result.status_code == 200 and result.headers["cache-control"] == "no-store"
    created = [r for r in csv.DictReader(io.StringIO(result.content.decode("utf-8-sig")))
               if r["outcome"] == "created"]
    assert len(created) == 12 and all(r["generated_password"] for r in created)
    assert live.state.backends.accounts.check_password(created[0]["email"], created[0]["generated_password"])
    assert live.state.backends.accounts.find(f"outsider@{world.b}") is None
    assert api(agency.token, "DELETE", f"/imports/{job_id}/result").status_code == 204
    assert api(agency.token, "GET", f"/imports/{job_id}/result").status_code == 404
    # the agency's audit log says who took the passwords' only copy away
    logged = api(agency.token, "GET", "/audit", params={"action": "import.result_delete"}).json()["items"]
    assert [(e["object_id"], e["domain"], e["actor"]) for e in logged] == [(str(job_id), agency.domain,
                                                                             agency.admin)]
    # two deletes at once: the one that finds the file gone after its check is done, not a 500
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mailgothai.services.import_jobs.existing_result", lambda job: Path(live.settings.data_dir,
                                                                                            "gone.csv"))
        assert api(agency.token, "DELETE", f"/imports/{job_id}/result").status_code == 204
    assert len(api(agency.token, "GET", "/audit", params={"action": "import.result_delete"}).json()["items"]) == 1

    listed = api(agency.token, "GET", "/imports").json()["items"]
    assert [j["id"] for j in listed] == [job_id]  # only its own jobs

    again = upload(api, agency.token, body).json()
    job = settled(api, agency.token, again["id"], ("validated",))
    assert (job["to_create"], job["to_update"], job["unchanged"], job["rejected"]) == (0, 0, 12, 4)


def test_export_streams_the_domain_and_reimports_unchanged(api: Any, agency: Agency, world: World) -> None:
    body, _ = staff_csv(agency.domain, world.b, good=30, encoding="utf-8")
    job_id = upload(api, agency.token, body).json()["id"]
    settled(api, agency.token, job_id, ("validated",))
    api(agency.token, "POST", f"/imports/{job_id}/apply")
    settled(api, agency.token, job_id, ("done",))
    api(agency.token, "PATCH", f"/accounts/staff3@{agency.domain}", json={"quota": "2G", "surname": "=1+2"})

    exported = api(agency.token, "GET", f"/domains/{agency.domain}/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["email"] for r in table} == {f"staff{i}@{agency.domain}" for i in range(30)}
    assert all(r["password"] == "" for r in table)
    staff3 = next(r for r in table if r["email"] == f"staff3@{agency.domain}")
    assert staff3["quota"] == "2G" and staff3["surname"] == "'=1+2"  # no formula for a spreadsheet
    assert api(agency.token, "GET", "/export").text == exported.text  # its only domain

    job = upload(api, agency.token, exported.content, "export.csv").json()
    job = settled(api, agency.token, job["id"], ("validated",))
    assert (job["to_create"], job["to_update"], job["unchanged"], job["rejected"]) == (0, 0, 30, 0)


def test_another_agency_sees_nothing(api: Any, agency: Agency, world: World) -> None:
    body, _ = staff_csv(agency.domain, world.b, good=2)
    job_id = upload(api, agency.token, body).json()["id"]
    settled(api, agency.token, job_id, ("validated",))
    stranger = world.tokens[world.admin_a]  # the domain admin of A
    for method, path in (("GET", f"/imports/{job_id}"), ("GET", f"/imports/{job_id}/rows"),
                         ("GET", f"/imports/{job_id}/report"), ("GET", f"/imports/{job_id}/result"),
                         ("POST", f"/imports/{job_id}/apply"), ("DELETE", f"/imports/{job_id}/result"),
                         ("GET", f"/domains/{agency.domain}/export")):
        assert api(stranger, method, path).status_code == 404, (method, path)
    assert job_id not in [j["id"] for j in api(stranger, "GET", "/imports").json()["items"]]
    assert agency.domain not in api(stranger, "GET", "/export").text
    assert api(agency.token, "GET", f"/imports/{job_id}").json()["state"] == "validated"  # not applied by A
    assert api(world.tokens[world.operator], "GET", f"/imports/{job_id}").status_code == 200  # operators see all

    # A's own upload naming this agency's domain: a bad row, never a write there.
    theirs, _ = staff_csv(world.a, agency.domain, good=6)  # checked, never applied
    rows_job = upload(api, stranger, theirs).json()["id"]
    settled(api, stranger, rows_job, ("validated",))
    items = api(stranger, "GET", f"/imports/{rows_job}/rows").json()["items"]
    assert any(r["row"] == 4 and f"domain {agency.domain} is not hosted here" in r["reason"] for r in items)


def test_bad_requests_name_the_field(api: Any, agency: Agency) -> None:
    token = agency.token
    r = api(token, "POST", "/imports", content=b"email\n", headers={"Content-Type": "application/json"})
    assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json"
    r = upload(api, token, b"")
    assert r.status_code == 400 and r.json()["errors"] == [{"field": "file", "code": "body_empty_csv",
                                                            "reason": "the body is empty; send the CSV file"}]
    r = upload(api, token, b"email\n", name="../../etc/passwd")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file_name"
    for bad_id in ("abc", "-1", "1e3"):
        r = api(token, "GET", f"/imports/{bad_id}")
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "job_id", bad_id
    # a whole number, as the document allows, beyond any job's id: no such job
    assert api(token, "GET", "/imports/99999999999").status_code == 404
    r = api(token, "GET", "/imports/1/rows", params={"limit": "lots"})
    assert r.status_code in (400, 404)
    assert api(None, "POST", "/imports", content=b"email\n", headers={"Content-Type": "text/csv"}).status_code == 401

    unusable = upload(api, token, "ชื่อ,นามสกุล\nสมชาย,ใจดี\n".encode()).json()
    job = settled(api, token, unusable["id"], ("failed", "validated"))
    assert job["state"] == "failed" and "email" in job["error"]


def test_operator_imports_domains_and_a_domain_admin_may_not(api: Any, world: World, agency: Agency) -> None:
    tag = uuid.uuid4().hex[:6]
    body = ("domain,description,max_accounts,quota,default_quota\r\n"
            f"d1-{tag}.go.th,กรมหนึ่ง,500,100G,1G\r\n"
            f"d2-{tag}.go.th,กรมสอง,many,100G,1G\r\n").encode("utf-8-sig")
    r = api(agency.token, "POST", "/domain-imports", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 403
    operator = world.tokens[world.operator]
    assert api(operator, "GET", f"/domains/d1-{tag}.go.th").status_code == 404
    r = api(operator, "POST", "/domain-imports", content=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    outcome = r.json()
    assert (outcome["created"], outcome["unchanged"]) == (1, 0)
    assert [(x["row"], x["column"]) for x in outcome["rejected"]] == [(2, "max_accounts")]
    assert api(operator, "GET", f"/domains/d1-{tag}.go.th").json()["limits"]["max_accounts"] == 500
    assert api(operator, "GET", f"/domains/d2-{tag}.go.th").status_code == 404
    again = api(operator, "POST", "/domain-imports", content=body, headers={"Content-Type": "text/csv"}).json()
    assert (again["created"], again["unchanged"]) == (0, 1)


def test_a_job_of_a_domain_taken_from_its_admin_is_not_found(api: Any, agency: Agency, live: Live,
                                                             new_client: Any) -> None:
    """A job is its admin's while the admin manages its domains: once the operator takes the
    job's domain away, neither the pages nor the API show the job, its bad rows or its result
    file (the generated passwords of that domain's new accounts); given back, it is there."""
    other = f"keep{uuid.uuid4().hex[:8]}.go.th"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(other, max_accounts="10", quota_pool="10G")
        svc.admins.update(agency.admin, domains=(agency.domain, other))
    body, _ = staff_csv(agency.domain, other, good=2, encoding="utf-8")
    job_id = upload(api, agency.token, body).json()["id"]
    settled(api, agency.token, job_id, ("validated",))
    api(agency.token, "POST", f"/imports/{job_id}/apply")
    assert settled(api, agency.token, job_id, ("done",))["result_available"]
    web = new_client()
    web.login_admin(agency.admin)
    pages = [f"/imports/job?id={job_id}", f"/imports/status?id={job_id}", f"/imports/report?id={job_id}",
             f"/imports/result?id={job_id}"]
    calls = [("GET", f"/imports/{job_id}"), ("GET", f"/imports/{job_id}/rows"), ("GET", f"/imports/{job_id}/report"),
             ("GET", f"/imports/{job_id}/result"), ("POST", f"/imports/{job_id}/apply"),
             ("DELETE", f"/imports/{job_id}/result")]
    assert [web.get(p).status_code for p in pages] == [200] * 4

    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.update(agency.admin, domains=(other,))  # the operator takes the job's domain away
    assert [web.get(p).status_code for p in pages] == [404] * 4
    assert [api(agency.token, m, p).status_code for m, p in calls] == [404] * 6
    assert job_id not in [j["id"] for j in api(agency.token, "GET", "/imports").json()["items"]]
    listing = web.get("/imports")
    assert listing.status_code == 200 and f"id={job_id}" not in listing.text

    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.update(agency.admin, domains=(agency.domain, other))  # given back
    result = web.get(f"/imports/result?id={job_id}")
    assert result.status_code == 200 and "generated_password" in result.text  # not deleted by the refusals
    assert api(agency.token, "GET", f"/imports/{job_id}").status_code == 200


def test_the_job_page_deletes_the_result_file(api: Any, agency: Agency, live: Live, world: World,
                                               new_client: Any) -> None:
    """The page, like the API's DELETE, deletes the result file once its passwords are handed
    out: a form with the CSRF token, the same service method, Thai and English; another
    agency's admin cannot delete this one's."""
    body, _ = staff_csv(agency.domain, world.b, good=2, encoding="utf-8")
    job_id = upload(api, agency.token, body).json()["id"]
    settled(api, agency.token, job_id, ("validated",))
    api(agency.token, "POST", f"/imports/{job_id}/apply")
    assert settled(api, agency.token, job_id, ("done",))["result_available"]

    stranger = new_client()
    stranger.login_admin(world.admin_a)
    stranger.get("/imports")
    assert stranger.post("/imports/result/delete", {"id": str(job_id)}).status_code == 404
    web = new_client()
    web.login_admin(agency.admin)
    web.http.cookies.set("mgt_lang", "th")
    page = web.get(f"/imports/job?id={job_id}")
    assert 'action="/imports/result/delete"' in page.text and "ลบไฟล์ผลลัพธ์" in page.text
    assert web.post("/imports/result/delete", {"id": str(job_id)}, csrf=False).status_code == 403
    assert api(agency.token, "GET", f"/imports/{job_id}/result").status_code == 200  # still there

    web.http.cookies.set("mgt_lang", "en")
    done = web.post("/imports/result/delete", {"id": str(job_id)})
    assert done.status_code == 303 and done.headers["location"] == (f"/imports/job?id={job_id}"
                                                                    "&notice=import-result-deleted")
    page = web.get(done.headers["location"])
    assert "The result file is deleted" in page.text and "/imports/result?id=" not in page.text
    assert 'action="/imports/result/delete"' not in page.text
    assert web.get(f"/imports/result?id={job_id}").status_code == 404
    assert api(agency.token, "GET", f"/imports/{job_id}").json()["result_available"] is False


def test_the_openapi_document_describes_the_import_endpoints(api: Any) -> None:
    paths = api(None, "GET", "/openapi.json").json()["paths"]
    assert "text/csv" in paths["/api/v1/imports"]["post"]["requestBody"]["content"]
    assert "text/csv" in paths["/api/v1/domains/{domain}/export"]["get"]["responses"]["200"]["content"]
    for path in ("/api/v1/imports/{job_id}", "/api/v1/imports/{job_id}/rows", "/api/v1/imports/{job_id}/apply",
                 "/api/v1/imports/{job_id}/result", "/api/v1/domain-imports", "/api/v1/export"):
        assert path in paths, path




def test_the_domain_page_exports_its_accounts(client: Client, world: World) -> None:
    client.login_admin(world.admin_a)
    page = client.get(f"/domains/{world.a}")
    assert f'href="/domains/{world.a}/export"' in page.text
    exported = client.get(f"/domains/{world.a}/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    emails = {r["email"] for r in csv.DictReader(io.StringIO(exported.text))}
    assert world.user_a in emails and all(e.endswith("@" + world.a) for e in emails)
    assert client.get(f"/domains/{world.b}/export").status_code == 404
