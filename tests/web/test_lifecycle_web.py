"""An address changes hands safely, through the pages: a deleted account is listed with
its domain's deleted accounts, restored (at its own address or another), its mail handed
over; an account is renamed; operators hold and release, and purge. In English and Thai."""

from __future__ import annotations

import html
import re
import uuid

import httpx
import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Client, Live, World
from tests.web.test_i18n import untranslated

pytestmark = pytest.mark.sql

OPERATOR = Actor("test-setup", Role.SUPERADMIN, origin="test")


def new_account(live: Live, domain: str, local: str = "", **kw: str) -> str:
    email = f"{local or 'p'}-{uuid.uuid4().hex[:6]}@{domain}"
    with Services.open(live.settings, OPERATOR) as svc:
        svc.accounts.add(email, PasswordInput(plain=PASSWORD), given_name="ทดสอบ", **kw)  # type: ignore[arg-type]
    return email


def delete(live: Live, email: str) -> str:
    with Services.open(live.settings, OPERATOR) as svc:
        return svc.accounts.delete(email).mailbox_id


def mailbox_id_of(live: Live, email: str) -> str:
    with Services.open(live.settings, OPERATOR) as svc:
        return svc.accounts.get(email).mailbox_id


def new_domain(live: Live, **limits: str) -> str:
    name = f"life{uuid.uuid4().hex[:8]}.go.th"
    with Services.open(live.settings, OPERATOR) as svc:
        svc.domains.add(name, description="ทดสอบ", **limits)  # type: ignore[arg-type]
    return name


def world_operator(live: Live) -> str:
    """An operator of its own for the tests that need no other part of the world."""
    login = f"op-life-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, OPERATOR) as svc:
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
    return login


def logged_in(client: Client, login: str) -> Client:
    client.login_admin(login)
    client.get("/")  # the session's CSRF token
    return client


def text(response: httpx.Response) -> str:
    """The page's text with its markup removed, as a person reads it."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def test_delete_list_and_restore_at_its_own_address(client: Client, live: Live, world: World) -> None:
    email = new_account(live, world.a, "leaver")
    mailbox = mailbox_id_of(live, email)
    logged_in(client, world.admin_a)
    confirm = client.get(f"/accounts/{email}/delete")
    assert "Its mailbox is kept for 30 days" in text(confirm) and "can be restored" in text(confirm)
    done = client.post(f"/accounts/{email}/delete")
    assert done.status_code == 303 and done.headers["location"].startswith(f"/deleted/{mailbox}?")
    assert "The account was deleted. Its mailbox is kept" in text(client.get(done.headers["location"]))

    listed = client.get(f"/domains/{world.a}/deleted")
    assert listed.status_code == 200
    assert f'href="/deleted/{mailbox}"' in listed.text and email in listed.text
    assert "Deleted accounts are kept 30 days" in text(listed)
    assert world.admin_a in text(listed)  # who deleted it

    detail = client.get(f"/deleted/{mailbox}")
    assert detail.status_code == 200 and mailbox in detail.text and "Restore the account" in text(detail)
    assert "Put on legal hold" not in text(detail)  # a domain admin is offered no hold
    restored = client.post(f"/deleted/{mailbox}/restore", {"as": ""})
    assert restored.status_code == 303 and restored.headers["location"].startswith(f"/accounts/{email}?")
    page = client.get(restored.headers["location"])
    assert "The account was restored with its mailbox." in text(page) and mailbox in page.text
    assert client.get(f"/deleted/{mailbox}").status_code == 404  # no longer among the deleted


def test_restore_onto_a_taken_address_is_refused_and_under_another_works(client: Client, live: Live,
                                                                          world: World) -> None:
    email = new_account(live, world.a, "taken")
    mailbox = delete(live, email)
    with Services.open(live.settings, OPERATOR) as svc:  # a newcomer gets the free address
        svc.accounts.add(email, PasswordInput(plain=PASSWORD))
    logged_in(client, world.admin_a)
    refused = client.post(f"/deleted/{mailbox}/restore", {"as": ""})
    assert refused.status_code == 409
    assert f"{email} already exists or is in use" in text(refused)
    local = "back-" + uuid.uuid4().hex[:6]
    restored = client.post(f"/deleted/{mailbox}/restore", {"as": local})  # a local part: its own domain
    assert restored.status_code == 303 and restored.headers["location"].startswith(f"/accounts/{local}@{world.a}")
    assert mailbox_id_of(live, f"{local}@{world.a}") == mailbox
    assert mailbox_id_of(live, email) != mailbox  # the newcomer keeps a mailbox of its own


def test_restore_under_an_address_of_another_domain_names_the_field(client: Client, live: Live,
                                                                     world: World) -> None:
    mailbox = delete(live, new_account(live, world.a, "moving"))
    logged_in(client, world.operator)
    refused = client.post(f"/deleted/{mailbox}/restore", {"as": f"moving@{world.b}"})
    assert refused.status_code == 400
    assert f"must be an address of the account's domain {world.a}" in text(refused)
    assert 'class="field has-error"' in refused.text  # shown at the field


def test_handover_shows_the_folder_and_the_count(client: Client, live: Live, world: World) -> None:
    leaver = new_account(live, world.a, "retired")
    mailbox = delete(live, leaver)
    successor = new_account(live, world.a, "successor")
    logged_in(client, world.admin_a)
    unknown = client.post(f"/deleted/{mailbox}/handover", {"to": f"nobody-{uuid.uuid4().hex[:6]}@{world.a}"})
    assert unknown.status_code == 400 and "was not found" in text(unknown)
    done = client.post(f"/deleted/{mailbox}/handover", {"to": successor})
    assert done.status_code == 200, text(done)
    page = text(done)
    assert "The mail was handed over: 0 messages were copied." in page
    assert successor in page and f"Archive/{leaver}" in page
    assert client.get(f"/deleted/{mailbox}").status_code == 200  # the deleted account keeps its own copy


def test_rename_keeps_the_mailbox_and_refuses_another_accounts_alias(client: Client, live: Live,
                                                                      world: World) -> None:
    holder_alias = f"desk-{uuid.uuid4().hex[:6]}@{world.a}"
    new_account(live, world.a, "holder", aliases=holder_alias)
    email = new_account(live, world.a, "renamed")
    mailbox = mailbox_id_of(live, email)
    logged_in(client, world.admin_a)
    assert f'href="/accounts/{email}/rename"' in client.get(f"/accounts/{email}").text
    form = client.get(f"/accounts/{email}/rename")
    assert form.status_code == 200 and "Keep the old address as an alias" in text(form)
    taken = client.post(f"/accounts/{email}/rename", {"new_address": holder_alias})
    assert taken.status_code == 409 and f"{holder_alias} already exists or is in use" in text(taken)
    same = client.post(f"/accounts/{email}/rename", {"new_address": email})
    assert same.status_code == 400 and "is the account's address already" in text(same)

    new = f"renamed-{uuid.uuid4().hex[:6]}@{world.a}"
    done = client.post(f"/accounts/{email}/rename", {"new_address": new, "keep_old_as_alias": "1"})
    assert done.status_code == 303 and done.headers["location"].startswith(f"/accounts/{new}?")
    page = client.get(done.headers["location"])
    assert "The account has its new address" in text(page) and mailbox in page.text and email in page.text
    assert mailbox_id_of(live, new) == mailbox


def test_a_domain_admin_is_offered_no_hold_and_cannot_place_one(client: Client, live: Live, world: World) -> None:
    email = new_account(live, world.a, "nohold")
    mailbox = delete(live, new_account(live, world.a, "nohold-deleted"))
    logged_in(client, world.admin_a)
    assert "/hold" not in client.get(f"/accounts/{email}").text
    assert "/hold" not in client.get(f"/domains/{world.a}").text
    for url in (f"/accounts/{email}", f"/deleted/{mailbox}", f"/domains/{world.a}"):
        assert client.get(f"{url}/hold").status_code == 404, url
        assert client.post(f"{url}/hold", {"reason": "mine"}).status_code == 404, url
        assert client.post(f"{url}/release").status_code == 404, url
    assert client.get("/purge").status_code == 404
    assert client.post("/purge").status_code == 404
    with Services.open(live.settings, OPERATOR) as svc:
        assert svc.accounts.get(email).hold_reason == "" and svc.lifecycle.get_deleted(mailbox).hold_reason == ""


def test_an_operator_holds_and_releases_an_account(client: Client, live: Live, world: World) -> None:
    email = new_account(live, world.a, "held")
    logged_in(client, world.operator)
    page = client.get(f"/accounts/{email}")
    assert f'action="/accounts/{email}/hold"' in page.text
    empty = client.post(f"/accounts/{email}/hold", {"reason": "  "})
    assert empty.status_code == 400 and "give the reason for the hold" in text(empty)
    held = client.post(f"/accounts/{email}/hold", {"reason": "คดีหมายเลข 42/2569"})
    assert held.status_code == 303
    page = client.get(held.headers["location"])
    assert "The legal hold is in place" in text(page) and "คดีหมายเลข 42/2569" in page.text
    assert "Release the legal hold" in text(page)
    released = client.post(f"/accounts/{email}/release")
    assert released.status_code == 303
    assert "คดีหมายเลข" not in client.get(f"/accounts/{email}").text


def test_an_operator_holds_a_domain_which_then_cannot_be_deleted(client: Client, live: Live) -> None:
    domain = new_domain(live)
    logged_in(client, world_operator(live))
    assert client.post(f"/domains/{domain}/hold", {"reason": "สตง. ขอให้เก็บไว้"}).status_code == 303
    page = text(client.get(f"/domains/{domain}"))
    assert "The domain is on legal hold" in page and "สตง. ขอให้เก็บไว้" in page
    client.get(f"/domains/{domain}/delete")
    refused = client.post(f"/domains/{domain}/delete", {"confirm": domain})
    assert refused.status_code == 400 and "is on legal hold" in text(refused) and "release it first" in text(refused)
    assert client.post(f"/domains/{domain}/release").status_code == 303
    assert "The domain is on legal hold" not in text(client.get(f"/domains/{domain}"))


def form_values(page: httpx.Response) -> dict[str, str]:
    """What a browser sends back of a form's text inputs, as the page filled them in."""
    return {m.group(2): html.unescape(m.group(3)) for m in re.finditer(
        r'<input id="f-\w+" type="(text|number)" name="(\w+)" value="([^"]*)"', page.text)}


def test_retention_days_on_the_domain_form(client: Client, live: Live) -> None:
    domain = new_domain(live)
    logged_in(client, world_operator(live))
    form = client.get(f"/domains/{domain}/edit")
    values = form_values(form)
    assert values["retention_days"] == "30"
    for bad, reason in (("4000", "must be between 0 and 3650 days, not 4000"), ("-1", "must be between 0 and 3650"),
                        ("a week", "must be a whole number of days")):
        refused = client.post(f"/domains/{domain}/edit", {**values, "retention_days": bad})
        assert refused.status_code == 400 and reason in text(refused), bad
        assert re.search(r'class="field has-error">\s*<label for="f-retention_days"', refused.text), bad
    assert client.post(f"/domains/{domain}/edit", {**values, "retention_days": "7"}).status_code == 303
    assert "Deleted accounts are kept 7 days" in text(client.get(f"/domains/{domain}"))
    email = new_account(live, domain, "short")
    client.get(f"/accounts/{email}/delete")
    assert "Its mailbox is kept for 7 days" in text(client.get(f"/accounts/{email}/delete"))
    client.get(f"/domains/{domain}/delete")
    assert "(7 days)" in text(client.get(f"/domains/{domain}/delete"))


def test_a_domain_admin_sees_no_deleted_account_of_another_domain(client: Client, world: World) -> None:
    logged_in(client, world.admin_a)
    assert client.get(f"/domains/{world.b}/deleted").status_code == 404
    assert client.get(f"/deleted/{world.deleted_b}").status_code == 404
    assert client.get(f"/deleted/former@{world.b}").status_code == 404
    assert client.post(f"/deleted/{world.deleted_b}/restore", {"as": ""}).status_code == 404
    assert client.post(f"/deleted/{world.deleted_b}/handover", {"to": world.user_a}).status_code == 404
    assert "former@" not in client.get(f"/domains/{world.a}/deleted").text.replace(f"former@{world.a}", "")


def test_the_purge_page_shows_what_would_go_then_purges_it(client: Client, live: Live) -> None:
    domain = new_domain(live, retention_days="0")
    gone = delete(live, new_account(live, domain, "gone"))
    held_email = new_account(live, domain, "kept")
    held = delete(live, held_email)
    with Services.open(live.settings, OPERATOR) as svc:
        svc.holds.hold_account(held, "คดีที่ 7")
    logged_in(client, world_operator(live))
    dry = client.get("/purge")
    assert dry.status_code == 200
    would = dry.text.split('id="purged"')[1].split("</table>")[0]
    assert gone in would and held not in would
    kept = dry.text.split('id="held"')[1].split("</table>")[0]
    assert held_email in kept and "The account is on legal hold:" in kept and "คดีที่ 7" in kept
    assert client.get(f"/deleted/{gone}").status_code == 200  # a dry run removes nothing

    done = client.post("/purge")
    assert done.status_code == 200
    assert "The purge is done" in text(done) and gone in done.text.split('id="purged"')[1].split("</table>")[0]
    assert client.get(f"/deleted/{gone}").status_code == 404
    assert client.get(f"/deleted/{held}").status_code == 200


@pytest.fixture
def thai(client: Client) -> Client:
    client.http.headers["Accept-Language"] = "th"
    return client


def test_the_new_pages_read_in_thai(thai: Client, live: Live, world: World) -> None:
    mailbox = delete(live, new_account(live, world.a, "thai"))
    successor = new_account(live, world.a, "thai-successor")
    logged_in(thai, world.operator)
    pages = {
        f"/domains/{world.a}/deleted": "บัญชีที่ถูกลบ",
        f"/deleted/{mailbox}": "กู้คืนบัญชี",
        f"/accounts/{successor}/rename": "เปลี่ยนที่อยู่ของบัญชี",
        f"/domains/{world.a}": "เก็บบัญชีที่ถูกลบไว้ 30 วัน",
        f"/accounts/{successor}": "การอายัดตามกฎหมาย",
        "/purge": "ล้างบัญชีที่ถูกลบ",
    }
    for path, phrase in pages.items():
        page = thai.get(path)
        assert page.status_code == 200 and '<html lang="th">' in page.text, path
        assert phrase in text(page), path
        assert untranslated(page.text, "th") == [], path
    refused = thai.post(f"/deleted/{mailbox}/restore", {"as": f"x@{world.b}"})
    assert f"ต้องเป็นที่อยู่ในโดเมน {world.a} ของบัญชี" in text(refused)
    handed = thai.post(f"/deleted/{mailbox}/handover", {"to": successor})
    assert "ส่งมอบอีเมลแล้ว คัดลอกไป 0 ข้อความ" in text(handed)
    assert untranslated(handed.text, "th") == []
    delete_page = thai.get(f"/accounts/{successor}/delete")
    assert "กล่องจดหมายจะเก็บไว้ 30 วัน" in text(delete_page)


def test_a_deleted_account_whose_size_is_not_known_is_listed(client: Client, live: Live, world: World) -> None:
    email = new_account(live, world.a, "suspended")
    with Services.open(live.settings, OPERATOR) as svc:
        svc.accounts.set_status(email, svc.accounts.get(email).status.DISABLED)  # Dovecot no longer reads it
        kept = svc.accounts.delete(email)
    assert kept.size is None  # no reading from Dovecot, none stored
    logged_in(client, world.admin_a)
    listed = client.get(f"/domains/{world.a}/deleted")
    assert listed.status_code == 200 and email in listed.text
    row = text(listed).split(email, 1)[1].split("@", 1)[0]
    assert "—" in row
