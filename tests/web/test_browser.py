"""A real browser: Debian's headless Chromium driven by Playwright logs in, creates an
account, finds it by a Thai-name search, suspends it, and saves a screenshot."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.web.conftest import PASSWORD, Live, World

pytestmark = pytest.mark.sql

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screenshots"


def test_browser_creates_finds_by_thai_name_and_suspends(live: Live, world: World) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/install.sh installs it"
    given = "วิภาวดี" + uuid.uuid4().hex[:4]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_context(locale="th-TH", extra_http_headers={"Accept-Language": "th"}).new_page()
        page.goto(live.url + "/login")
        page.fill("#f-login", world.admin_a)
        page.fill("#f-password", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(live.url + "/")
        page.goto(live.url + f"/domains/{world.a}/accounts/new")
        page.fill("#f-local_part", "wipa.b")
        page.fill("#f-given_name", given)
        page.fill("#f-surname", "บุญมา")
        page.select_option("#f-password_mode", "set")
        page.fill("#f-password", "Browser-pass-1")
        page.click("button.primary")
        page.wait_for_url(f"**/accounts/wipa.b@{world.a}*")
        page.goto(live.url + f"/domains/{world.a}/accounts")
        page.fill("input[name=q]", given[:5])
        page.press("input[name=q]", "Enter")
        page.wait_for_load_state()
        rows = page.locator("#accounts tbody tr")
        assert rows.count() == 1
        assert f"wipa.b@{world.a}" in rows.first.inner_text()
        rows.first.locator("button").click()  # the row's suspend button
        page.wait_for_load_state()
        assert "ระงับ" in page.locator("#accounts tbody tr").first.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / "accounts-thai.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    assert live.state.backends.accounts.get(f"wipa.b@{world.a}").status.value == "disabled"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
