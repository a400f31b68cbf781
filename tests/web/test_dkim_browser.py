"""DKIM in a real browser (issue 19): Debian's headless Chromium driven by Playwright, as a
domain admin in Thai, generates the domain's key, rotates it (the new key pending, its
DNS record shown), activates the new one, and saves a screenshot of the page."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Live

pytestmark = pytest.mark.sql

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_browser_generates_rotates_and_activates_a_key(live: Live, tmp_path: Path) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/install.sh installs it"
    tag = uuid.uuid4().hex[:8]
    domain, admin = f"dkb{tag}.go.th", f"dkb-{tag}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, description="กรมทดสอบ")
        svc.admins.add(admin, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(domain,))
    shot = tmp_path / "dkim-thai.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_context(locale="th-TH", extra_http_headers={"Accept-Language": "th"}).new_page()
        page.goto(live.url + "/login")
        page.fill("#f-login", admin)
        page.fill("#f-password", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(live.url + "/")
        page.goto(live.url + f"/domains/{domain}")
        page.click("#dkim-status a")  # the domain's page links to its keys
        page.wait_for_url(f"**/domains/{domain}/dkim")
        assert page.locator("#dkim-keys tbody tr").count() == 1  # "no keys"

        page.locator(f"form[action='/domains/{domain}/dkim/generate'] button").click()
        page.wait_for_url("**notice=dkim-generated")
        active = page.locator("#dkim-keys tr[data-state=active]")
        assert active.count() == 1
        first = active.first.get_attribute("id")
        assert first and "ใช้งาน" in active.first.inner_text()
        assert f"._domainkey.{domain}. IN TXT (" in page.locator("#dkim-keys pre").first.inner_text()

        page.locator(f"form[action='/domains/{domain}/dkim/rotate'] button").click()
        page.wait_for_url("**notice=dkim-rotated")
        pending = page.locator("#dkim-keys tr[data-state=pending]")
        assert pending.count() == 1 and "รอเปิดใช้" in pending.first.inner_text()
        second = pending.first.get_attribute("id")
        assert page.locator("#dkim-keys pre").count() == 2  # both records to publish
        assert page.locator(f"#dkim-keys tr[id='{first}']").get_attribute("data-state") == "active"

        pending.first.locator("form[action$='/activate'] button").click()
        page.wait_for_url("**notice=dkim-activated")
        assert page.locator(f"#dkim-keys tr[id='{second}']").get_attribute("data-state") == "active"
        assert page.locator(f"#dkim-keys tr[id='{first}']").get_attribute("data-state") == "retiring"
        assert "กำลังเลิกใช้" in page.locator(f"#dkim-keys tr[id='{first}']").inner_text()
        assert page.locator("p.notice").inner_text() == "กุญแจใหม่ใช้ลงลายมือชื่อตั้งแต่บัดนี้ กุญแจที่ถูกแทนที่กำลังเลิกใช้"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    with Services.open(live.settings, Actor("test-check", Role.SUPERADMIN, origin="test")) as svc:
        states = {f"dkim-{k.selector}": k.state.value for k in svc.dkim.list(domain)}
    assert states == {first: "retiring", second: "active"}
