"""The API's CSV upload takes the importer's encoding check (issue 15): a Latin-1 file is
not read as Thai; the job fails naming the place and the bytes, nothing is written; the
optional `encoding` query parameter reads the file as what it is."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Live
from tests.web.test_api_imports import Agency, agency, api, settled, upload  # noqa: F401 - fixtures

pytestmark = pytest.mark.sql

HEADERS = {"Content-Type": "text/csv"}


def test_a_latin1_upload_fails_naming_the_problem_and_reads_with_encoding(api: Any, agency: Agency,  # noqa: F811
                                                                          live: Live) -> None:
    body = f"email,given_name,surname\njorg@{agency.domain},Jörg,Ørsted\n".encode("latin-1")
    r = upload(api, agency.token, body, name="western.csv")
    assert r.status_code == 202, r.text
    job = settled(api, agency.token, r.json()["id"], ("failed",))
    assert "data row 1, column given_name" in job["error"] and "'Jörg'" in job["error"], job
    assert "--encoding" in job["error"] or "encoding" in job["error"]
    assert live.state.backends.accounts.find(f"jorg@{agency.domain}") is None  # nothing written

    r = api(agency.token, "POST", "/imports", content=body, headers=HEADERS,
            params={"file_name": "western.csv", "encoding": "latin-1"})
    assert r.status_code == 202, r.text
    job = settled(api, agency.token, r.json()["id"], ("validated",))
    assert (job["encoding"], job["to_create"], job["rejected"]) == ("latin-1", 1, 0)

    r = api(agency.token, "POST", "/imports", content=body, headers=HEADERS,
            params={"file_name": "western.csv", "encoding": "klingon"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "encoding", r.text
