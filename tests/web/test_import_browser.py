"""The CSV import in a real browser (Debian's headless Chromium through Playwright), as a
domain admin: upload a file with bad rows, see them, confirm, watch the progress to the
end, download the result; plus the pages' access rules over plain HTTP."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screenshots"


def staff_file(folder: Path, world: World, tag: str, good: int = 60) -> tuple[Path, set[int]]:
    rows = [[f"imp{tag}.{i}@{world.a}", "นำเข้า", f"ทดสอบ{i}", f"นำเข้า ทดสอบ{i}", "", "", "active"]
            for i in range(good)]
    bad = {
        5: [f"imp{tag}.bad1@{world.a}", "x", "y", "", "", "lots", "active"],  # quota
        12: [f"someone{tag}@{world.b}", "x", "y", "", "", "", "active"],  # another agency's domain
        20: [rows[0][0], "x", "y", "", "", "", "active"],  # duplicate of row 1
        33: [f"imp{tag}.bad2@{world.a}", "x", "y", "", "", "", "maybe"],  # status
    }
    for n in sorted(bad):
        rows.insert(n - 1, bad[n])
    path = folder / "staff.csv"
    with open(path, "w", newline="", encoding="cp874") as fh:  # as Excel on Thai Windows writes it
        writer = csv.writer(fh)
        writer.writerow(["email", "given_name", "surname", "display_name", "password", "quota", "status"])
        writer.writerows(rows)
    return path, set(bad)


def test_browser_upload_see_bad_rows_confirm_and_watch_it_finish(live: Live, world: World, tmp_path: Path) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/install.sh installs it"
    tag = uuid.uuid4().hex[:6]
    path, bad = staff_file(tmp_path, world, tag)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        context = browser.new_context(locale="th-TH", extra_http_headers={"Accept-Language": "th"},
                                      accept_downloads=True)
        page = context.new_page()
        page.goto(live.url + "/login")
        page.fill("#f-login", world.admin_a)
        page.fill("#f-password", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(live.url + "/")
        page.goto(live.url + "/imports")
        page.set_input_files("#f-file", str(path))
        page.click("form.upload button.primary")
        page.wait_for_url("**/imports/job?id=*")
        page.wait_for_selector("#bad-rows", timeout=60_000)  # shown once the check is done
        shown = {int(t) for t in page.locator("#bad-rows tbody tr td:first-child").all_inner_texts()}
        assert shown == bad
        # The page is in Thai: every reason too, from the codes the job's rows keep (issue 16).
        assert f"โดเมน {world.b} ไม่ได้ให้บริการที่นี่" in page.locator("#bad-rows").inner_text()
        expect(page.locator("#n-create")).to_have_text("60")  # the figures follow the job (imports.js polls)
        with page.expect_download() as report:
            page.click("#report")
        lines = list(csv.DictReader(io.StringIO(Path(report.value.path()).read_text(encoding="utf-8-sig"))))
        assert {int(r["row"]) for r in lines} == bad
        page.click("#confirm")
        page.wait_for_selector("#result", timeout=120_000)  # the page follows the job to its end
        assert "เสร็จสิ้น" in page.locator("#job-state").inner_text()
        assert "60" in page.locator("#applied").inner_text()
        with page.expect_download() as result:
            page.click("#result")
        generated = list(csv.DictReader(io.StringIO(Path(result.value.path()).read_text(encoding="utf-8-sig"))))
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "import-done-thai.png"), full_page=True)
        browser.close()
    created = [r for r in generated if r["outcome"] == "created"]
    assert len(created) == 60 and all(r["generated_password"] for r in created)
    first = created[0]
    assert live.state.backends.accounts.find(first["email"]) is not None
    assert live.state.backends.accounts.check_password(first["email"], first["generated_password"])
    assert live.state.backends.accounts.find(f"someone{tag}@{world.b}") is None


def test_another_admin_cannot_see_the_job(live: Live, world: World, new_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    owner: Client = new_client()
    owner.login_admin(world.admin_a)
    owner.get("/imports")
    path, _ = staff_file(tmp_path, world, uuid.uuid4().hex[:6], good=3)
    response = owner.http.post("/imports", data={"csrf_token": owner.csrf},
                               files={"file": ("staff.csv", path.read_bytes(), "text/csv")})
    assert response.status_code == 303
    job_url = response.headers["location"]
    assert owner.get(job_url).status_code == 200
    operator: Client = new_client()
    operator.login_admin(world.operator)
    assert operator.get(job_url).status_code == 200  # operators see every job
    stranger_login = f"da-b-{uuid.uuid4().hex[:6]}"
    from mailgothai.core.models import Role
    from mailgothai.services.actor import Actor
    from mailgothai.services.passwords import PasswordInput
    from mailgothai.services.registry import Services

    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(stranger_login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(world.b,))
    stranger: Client = new_client()
    stranger.login_admin(stranger_login)
    assert stranger.get(job_url).status_code == 404
    assert stranger.get(job_url.replace("/imports/job", "/imports/status")).status_code == 404
    assert stranger.get(job_url.replace("/imports/job", "/imports/report")).status_code == 404
    no_csrf = owner.http.post("/imports", files={"file": ("staff.csv", path.read_bytes(), "text/csv")})
    assert no_csrf.status_code == 403


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
