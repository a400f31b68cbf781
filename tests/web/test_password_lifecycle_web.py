"""Issue 20's "change at next login" through /api/v1 and the pages: an import uploaded
with must_change=true marks every account it creates (the page's checkbox too); an
account's reset over the API marks it unless must_change is false, and on the account's
reset page unless its checkbox is unticked; a domain admin sets the domain's lifecycle
(change at first login, maximum age, warning lead) on the password-policy page and over
GET/PATCH /domains/{domain}/password-lifecycle, a bad value refused naming the field and
another domain's 404; a bad value is refused naming the field. (Its enforcement over
IMAP, SMTP and the web: tests/integration/test_password_lifecycle.py.)"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mailgothai.core.models import Role
from mailgothai.core.password_lifecycle import Lifecycle
from mailgothai.services.actor import Actor
from mailgothai.services.password_lifecycle import PasswordLifecycleService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Client, Live, World
from tests.web.test_api_imports import Agency, agency, api, settled, upload  # noqa: F401 - fixtures
from tests.web.test_i18n import untranslated

pytestmark = pytest.mark.sql
ROWS = "email,password\n" + "".join(f"staff{n}@{{domain}},Lamp-river-Kx7-9{n}\n" for n in range(3))


def marked(live: Live, email: str) -> bool:
    return live.state.backends.accounts.get(email).must_change_password


def test_an_api_import_with_must_change_marks_every_account_it_creates(api: Any, agency: Agency,  # noqa: F811
                                                                        live: Live) -> None:
    refused = api(agency.token, "POST", "/imports", content=b"email\n", params={"must_change": "maybe"},
                  headers={"Content-Type": "text/csv"})
    assert refused.status_code == 400 and "must_change" in refused.text
    body = ROWS.format(domain=agency.domain).encode()
    r = api(agency.token, "POST", "/imports", content=body, params={"file_name": "a.csv", "must_change": "true"},
            headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    settled(api, agency.token, job_id, ("validated",))
    assert api(agency.token, "POST", f"/imports/{job_id}/apply").status_code == 202
    assert settled(api, agency.token, job_id, ("done",))["created"] == 3
    assert all(marked(live, f"staff{n}@{agency.domain}") for n in range(3))

    # without the option a chosen password is not marked
    plain = upload(api, agency.token, "email,password\nplain@{d},Lamp-river-Kx7-99\n".replace(
        "{d}", agency.domain).encode(), name="b.csv")
    job_id = plain.json()["id"]
    settled(api, agency.token, job_id, ("validated",))
    api(agency.token, "POST", f"/imports/{job_id}/apply")
    settled(api, agency.token, job_id, ("done",))
    assert not marked(live, f"plain@{agency.domain}")


def test_an_api_reset_marks_the_account_unless_told_not_to(api: Any, agency: Agency, live: Live) -> None:  # noqa: F811
    body = ROWS.format(domain=agency.domain).encode()
    job_id = upload(api, agency.token, body).json()["id"]
    settled(api, agency.token, job_id, ("validated",))
    api(agency.token, "POST", f"/imports/{job_id}/apply")
    settled(api, agency.token, job_id, ("done",))
    user = f"staff0@{agency.domain}"
    assert not marked(live, user)
    r = api(agency.token, "POST", f"/accounts/{user}/password", json={"password": "Orchid-Tugboat-58q"})
    assert r.status_code == 200 and marked(live, user)
    r = api(agency.token, "POST", f"/accounts/{user}/password",
            json={"password": "Orchid-Tugboat-59q", "must_change": False})
    assert r.status_code == 200 and not marked(live, user), r.text
    bad = api(agency.token, "POST", f"/accounts/{user}/password", json={"password": "Orchid-Tugboat-60q",
                                                                        "must_change": "no"})
    assert bad.status_code == 400 and "must_change" in bad.text


GOOD = "Tr4vel-lamp-Oboe"


def lifecycle(live: Live, domain: str) -> Lifecycle:
    with Services.open(live.settings, Actor("test-check", Role.SUPERADMIN, origin="test")) as svc:
        return PasswordLifecycleService(svc.backends, svc.actor).show(domain).lifecycle


def field_error(response: Any, name: str) -> str:
    """The error shown under the form field `name` ('' if none)."""
    text = html.unescape(response.text)
    found = re.search(r'<div class="field has-error">\s*<label[^>]*>\s*(?:<input[^>]*name="' + name + r'"[^>]*>|[^<]*'
                      r'</label>\s*<input[^>]*name="' + name + r'")[\s\S]*?<p class="field-error" role="alert">'
                      r'([^<]*)</p>', text)
    return found.group(1) if found else ""


@pytest.fixture
def admin(live: Live, agency: Agency) -> Iterator[Client]:  # noqa: F811
    c = Client(live)
    assert c.login_admin(agency.admin).status_code == 303
    yield c
    c.close()


def test_a_domain_admin_sets_the_lifecycle_on_the_password_policy_page(admin: Client, agency: Agency,  # noqa: F811
                                                                       live: Live, world: World) -> None:
    page_url = f"/domains/{agency.domain}/password-policy"
    page = admin.get(page_url)
    assert page.status_code == 200 and "Password changes and expiry" in page.text
    assert 'name="must_change_generated" value="1" checked' in page.text  # the defaults
    assert 'name="must_change_on_create" value="1" >' in page.text
    assert 'name="max_age_days" value=""' in page.text and 'name="warn_days" value="14"' in page.text
    post_url = f"/domains/{agency.domain}/password-lifecycle"
    saved = admin.post(post_url, {"must_change_on_create": "1", "max_age_days": "90", "warn_days": "7"})
    assert saved.status_code == 303 and "notice=password-lifecycle-saved" in saved.headers["location"]
    assert lifecycle(live, agency.domain) == Lifecycle(must_change_generated=False, must_change_on_create=True,
                                                       max_age_days=90, warn_days=7)
    again = admin.get(page_url).text
    assert 'name="max_age_days" value="90"' in again and 'name="warn_days" value="7"' in again
    assert 'name="must_change_on_create" value="1" checked' in again
    assert 'name="must_change_generated" value="1" >' in again and agency.admin in again

    # every new account now starts marked, even with a password the admin chose
    admin.get(f"/domains/{agency.domain}/accounts/new")
    created = admin.post(f"/domains/{agency.domain}/accounts/new",
                         {"local_part": "dang", "password_mode": "set", "password": GOOD})
    assert created.status_code == 303 and marked(live, f"dang@{agency.domain}")

    for form, name, reason in (
            ({"max_age_days": "-5", "warn_days": "7"}, "max_age_days", "must be between 1 and 3650"),
            ({"max_age_days": "soon", "warn_days": "7"}, "max_age_days", "must be a whole number of days, not soon"),
            ({"max_age_days": "30", "warn_days": "91"}, "warn_days", "must be between 0 and 90"),
            ({"max_age_days": "30", "warn_days": ""}, "warn_days", "must be a whole number of days, not ")):
        admin.get(page_url)
        refused = admin.post(post_url, {"must_change_generated": "1", **form})
        assert refused.status_code == 400, form
        assert field_error(refused, name).strip() == reason.strip(), (form, field_error(refused, name))
        assert f'name="{name}" value="{form[name]}"' in refused.text  # what was typed is shown again
    assert lifecycle(live, agency.domain).max_age_days == 90  # nothing stored

    admin.get(page_url)
    assert admin.post(post_url, {"must_change_on_create": "1", "max_age_days": "90", "warn_days": "7",
                                 "csrf_token": "forged"}).status_code == 403
    admin.http.cookies.set("mgt_lang", "th")
    thai = admin.get(page_url)
    assert "การเปลี่ยนรหัสผ่านและการหมดอายุ" in thai.text and untranslated(thai.text, "th") == []
    refused = admin.post(post_url, {"max_age_days": "soon", "warn_days": "7"})
    assert refused.status_code == 400 and field_error(refused, "max_age_days") == "ต้องเป็นจำนวนวันเต็ม ไม่ใช่ soon"
    admin.get(page_url)
    refused = admin.post(post_url, {"max_age_days": "-5", "warn_days": "7"})
    assert refused.status_code == 400 and field_error(refused, "max_age_days").startswith("ต้อง")
    assert untranslated(refused.text, "th") == []
    admin.http.cookies.set("mgt_lang", "en")

    # off again: an empty maximum age
    admin.get(page_url)
    assert admin.post(post_url, {"must_change_generated": "1", "max_age_days": "", "warn_days": "14"}
                      ).status_code == 303
    assert lifecycle(live, agency.domain) == Lifecycle()

    theirs = lifecycle(live, world.b)
    assert admin.get(f"/domains/{world.b}/password-policy").status_code == 404
    admin.get(page_url)
    assert admin.post(f"/domains/{world.b}/password-lifecycle",
                      {"must_change_on_create": "1", "max_age_days": "1", "warn_days": "0"}).status_code == 404
    assert lifecycle(live, world.b) == theirs


def test_the_api_reads_and_changes_the_lifecycle_given_fields_only(api: Any, agency: Agency,  # noqa: F811
                                                                   live: Live, world: World) -> None:
    path = f"/domains/{agency.domain}/password-lifecycle"
    got = api(agency.token, "GET", path)
    assert got.status_code == 200, got.text
    assert {k: got.json()[k] for k in ("must_change_generated", "must_change_on_create", "max_age_days",
                                       "warn_days", "changed_by")} == {
        "must_change_generated": True, "must_change_on_create": False, "max_age_days": None, "warn_days": 14,
        "changed_by": None}
    changed = api(agency.token, "PATCH", path, json={"max_age_days": 60, "must_change_generated": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["max_age_days"], changed.json()["warn_days"], changed.json()["changed_by"]) == \
        (60, 14, agency.admin)
    again = api(agency.token, "GET", path).json()
    assert (again["max_age_days"], again["must_change_generated"], again["must_change_on_create"]) == \
        (60, False, False)
    assert lifecycle(live, agency.domain) == Lifecycle(must_change_generated=False, max_age_days=60)

    for body, name, reason in (({"max_age_days": -1}, "max_age_days", "must be between 1 and 3650"),
                               ({"max_age_days": "30"}, "max_age_days", "must be a whole number"),
                               ({"warn_days": 91}, "warn_days", "must be between 0 and 90"),
                               ({"warn_days": 1.5}, "warn_days", "must be a whole number"),
                               ({"must_change_on_create": "yes"}, "must_change_on_create", "must be true or false")):
        refused = api(agency.token, "PATCH", path, json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert [(e["field"], e["reason"]) for e in refused.json()["errors"]] == [(name, reason)], refused.text
    assert api(agency.token, "PATCH", path, json={"colour": 1}).status_code == 400
    assert lifecycle(live, agency.domain) == Lifecycle(must_change_generated=False, max_age_days=60)

    off = api(agency.token, "PATCH", path, json={"max_age_days": None, "must_change_on_create": True})
    assert off.status_code == 200 and (off.json()["max_age_days"], off.json()["must_change_on_create"]) == \
        (None, True)

    theirs = lifecycle(live, world.b)
    other = f"/domains/{world.b}/password-lifecycle"
    assert api(agency.token, "GET", other).status_code == 404
    assert api(agency.token, "PATCH", other, json={"max_age_days": 1}).status_code == 404
    assert lifecycle(live, world.b) == theirs


def test_the_reset_form_marks_the_account_unless_its_checkbox_is_unticked(admin: Client, agency: Agency,  # noqa: F811
                                                                          live: Live) -> None:
    user = f"somchai@{agency.domain}"
    with Services.open(live.settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.accounts.add(user, PasswordInput(plain=PASSWORD))
    assert not marked(live, user)
    reset = f"/accounts/{user}/password"
    form = admin.get(reset)
    assert 'name="must_change" value="1" checked' in form.text  # ticked by default
    assert "The user must change it at next login" in form.text
    assert "its app passwords and its recovery address are removed" in form.text  # told before it happens
    admin.http.cookies.set("mgt_lang", "th")
    assert "รหัสผ่านสำหรับแอปและที่อยู่สำหรับกู้คืนรหัสผ่านของบัญชีจะถูกลบ" in admin.get(reset).text
    admin.http.cookies.set("mgt_lang", "en")
    ticked = admin.post(reset, {"password_mode": "set", "password": GOOD, "must_change": "1"})
    assert ticked.status_code == 303 and marked(live, user)
    admin.get(reset)
    unticked = admin.post(reset, {"password_mode": "set", "password": GOOD + "2"})  # an unticked box is not sent
    assert unticked.status_code == 303 and not marked(live, user)
    assert live.state.backends.accounts.check_password(user, GOOD + "2")
    admin.get(reset)
    weak = admin.post(reset, {"password_mode": "set", "password": "password1"})
    assert weak.status_code == 400 and 'name="must_change" value="1" >' in weak.text  # shown as it was sent
    assert not marked(live, user)
