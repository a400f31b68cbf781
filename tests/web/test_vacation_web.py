"""Out-of-office replies on the web and the API (issue 17), against the live web server
and the stack's real Dovecot: a mail user sets their own reply in Thai on the
self-service page (and turns it off); an end before the start is refused naming the field,
in English and in Thai, with nothing stored; a domain admin sets a leaver's reply from the
account's page, beside its forward, and reaches no other domain; the API says the same."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.core.thai_time import today_in_thailand
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.vacation import VacationService
from mailgothai.settings import Settings
from tests.web.conftest import PASSWORD, Client, Live, World

pytestmark = pytest.mark.sql

SUBJECT = "ลาพักร้อน / On leave"
TEXT = "ดิฉันลาพักร้อนถึงวันศุกร์\nติดต่อ <คุณมาลี> แทนได้ค่ะ"


@pytest.fixture
def mailbox(web_settings: Settings, world: World) -> str:
    """A fresh account of agency A (world.a, which world.admin_a administers), with a forward."""
    email = f"leave.{uuid.uuid4().hex[:8]}@{world.a}"
    with Services.open(web_settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.accounts.add(email, PasswordInput(plain=PASSWORD), forwards=f"successor@{world.a}")
    return email


@pytest.fixture
def user(live: Live, mailbox: str) -> Iterator[Client]:
    c = Client(live)
    assert c.login_user(mailbox).status_code == 303
    yield c
    c.close()


def stored(settings: Settings, email: str) -> VacationService:
    with Services.open(settings, Actor("test-check", Role.SUPERADMIN, origin="test")) as svc:
        return svc.vacation.show(email).vacation  # type: ignore[return-value]


def form(subject: str = SUBJECT, message: str = TEXT, start: str = "", end: str = "", days: str = "7"
         ) -> dict[str, str]:
    return {"subject": subject, "message": message, "start": start, "end": end, "reply_days": days}


def test_a_user_sets_and_turns_off_their_own_reply(web_settings: Settings, user: Client, mailbox: str) -> None:
    assert 'href="/me/vacation"' in user.get("/me").text
    page = user.get("/me/vacation")
    assert page.status_code == 200 and "Off: no reply is sent." in page.text and 'name="subject"' in page.text
    end = (today_in_thailand() + timedelta(days=5)).isoformat()
    saved = user.post("/me/vacation", form(end=end, days="3"))
    assert saved.status_code == 303 and "notice=vacation-set" in saved.headers["location"]
    shown = html.unescape(user.get("/me/vacation").text)
    assert "On: replies are being sent today." in shown and SUBJECT in shown and "ติดต่อ <คุณมาลี>" in shown
    vacation = stored(web_settings, mailbox)
    assert vacation is not None
    assert (vacation.subject, vacation.message, vacation.end and vacation.end.isoformat(), vacation.days) == (
        SUBJECT, TEXT, end, 3)

    off = user.post("/me/vacation/off")
    assert off.status_code == 303 and "notice=vacation-off" in off.headers["location"]
    assert "Off: no reply is sent." in user.get("/me/vacation").text
    assert stored(web_settings, mailbox) is None


def test_an_end_before_the_start_is_refused_naming_the_field_and_nothing_is_stored(
        web_settings: Settings, user: Client, mailbox: str) -> None:
    user.get("/me/vacation")
    refused = user.post("/me/vacation", form(start="2027-01-10", end="2027-01-03"))
    assert refused.status_code == 400
    assert "the end (2027-01-03) is before the start (2027-01-10)" in refused.text
    assert 'value="2027-01-03"' in refused.text and SUBJECT in html.unescape(refused.text)  # typed text kept
    user.http.cookies.set("mgt_lang", "th")
    user.get("/me/vacation")
    thai = html.unescape(user.post("/me/vacation", form(subject=" ")).text)
    assert "หัวเรื่อง" in thai and "ว่าง" in thai
    thai = html.unescape(user.post("/me/vacation", form(start="2027-01-10", end="2027-01-03")).text)
    assert "วันสุดท้าย (2027-01-03) อยู่ก่อนวันแรก (2027-01-10)" in thai
    assert stored(web_settings, mailbox) is None


def test_a_domain_admin_sets_a_leavers_reply_beside_the_forward(live: Live, world: World, mailbox: str,
                                                                web_settings: Settings) -> None:
    admin = Client(live)
    try:
        admin.login_admin(world.admin_a)
        assert f'href="/accounts/{mailbox}/vacation"' in admin.get(f"/accounts/{mailbox}").text
        page = admin.get(f"/accounts/{mailbox}/vacation")
        assert page.status_code == 200 and f"successor@{world.a}" in page.text  # the forward, on the same page
        saved = admin.post(f"/accounts/{mailbox}/vacation", form(subject="ลาออกแล้ว / Has left the agency"))
        assert saved.status_code == 303
        assert stored(web_settings, mailbox) is not None
        assert admin.get(f"/accounts/{world.user_b}/vacation").status_code == 404
        assert admin.post(f"/accounts/{world.user_b}/vacation", form()).status_code == 404
        assert admin.post(f"/accounts/{world.user_b}/vacation/off").status_code == 404
        assert admin.post(f"/accounts/{mailbox}/vacation/off").status_code == 303
        assert stored(web_settings, mailbox) is None
    finally:
        admin.close()


def test_the_api_sets_shows_and_turns_off_a_reply(live: Live, world: World, mailbox: str) -> None:
    def call(method: str, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        with httpx.Client(base_url=live.url, timeout=60) as http:
            return http.request(method, "/api/v1" + path,
                                headers={"Authorization": f"Bearer {world.tokens[world.admin_a]}"}, **kw)

    assert call("GET", f"/accounts/{mailbox}/vacation").json() == {"email": mailbox, "enabled": False,
                                                                   "replying_today": False}
    body = {"subject": SUBJECT, "message": TEXT, "start": None, "end": None, "reply_days": 10}
    saved = call("PUT", f"/accounts/{mailbox}/vacation", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"email": mailbox, "enabled": True, "replying_today": True, **body,
                            "addresses": [mailbox]}
    bad = call("PUT", f"/accounts/{mailbox}/vacation", json={**body, "start": "2027-05-02", "end": "2027-05-01"})
    assert bad.status_code == 400
    assert [(e["field"], e["code"]) for e in bad.json()["errors"]] == [("end", "vacation_end_before_start")]
    assert call("GET", f"/accounts/{mailbox}/vacation").json()["reply_days"] == 10  # unchanged
    assert call("GET", f"/accounts/{world.user_b}/vacation").status_code == 404
    assert call("PUT", f"/accounts/{world.user_b}/vacation", json=body).status_code == 404
    assert call("DELETE", f"/accounts/{world.user_b}/vacation").status_code == 404
    assert call("DELETE", f"/accounts/{mailbox}/vacation").status_code == 204
    assert call("GET", f"/accounts/{mailbox}/vacation").json()["enabled"] is False


def test_the_self_service_page_is_all_thai_in_thai(user: Client) -> None:
    from tests.web.test_i18n import untranslated

    user.http.cookies.set("mgt_lang", "th")
    assert user.get("/me/vacation").status_code == 200
    assert user.post("/me/vacation", form()).status_code == 303  # set: the page shows all its parts
    page = user.get("/me/vacation")
    assert page.status_code == 200 and '<html lang="th">' in page.text
    assert untranslated(page.text, "th") == []
