"""Issue 20's "change at next login" through /api/v1 and the pages: an import uploaded
with must_change=true marks every account it creates (the page's checkbox too); an
account's reset over the API marks it unless must_change is false; a bad value is refused
naming the field. (Its enforcement over IMAP, SMTP and the web:
tests/integration/test_password_lifecycle.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Live
from tests.web.test_api_imports import Agency, agency, api, settled, upload  # noqa: F401 - fixtures

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
