"""The import page takes the importer's encoding check (issue 15): a Latin-1 upload is
refused with the place, the bytes and what to do, in the page's language, nothing written;
the form's encoding field reads the same file as what it is."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.web.conftest import Client, Live, World

pytestmark = pytest.mark.sql


def _upload(client: Client, body: bytes, **fields: str) -> str:
    client.get("/imports")
    response = client.http.post("/imports", data={"csrf_token": client.csrf, **fields},
                                files={"file": ("western.csv", body, "text/csv")})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _settled(client: Client, job_url: str) -> dict[str, Any]:
    status_url = job_url.replace("/imports/job", "/imports/status")
    deadline = time.monotonic() + 120
    while True:
        status = client.get(status_url).json()
        if status["state"] in ("validated", "failed") and not status["running"]:
            return status  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_a_latin1_upload_is_refused_on_the_page_and_read_with_the_encoding_field(
        live: Live, world: World, new_client) -> None:  # type: ignore[no-untyped-def]
    owner: Client = new_client()
    owner.login_admin(world.admin_a)
    local = f"jorg{uuid.uuid4().hex[:6]}"
    body = f"email,given_name,surname\n{local}@{world.a},Jörg,Ørsted\n".encode("latin-1")

    job_url = _upload(owner, body)
    assert _settled(owner, job_url)["state"] == "failed"
    page = owner.get(job_url, headers={"Accept-Language": "en"}).text
    assert "data row 1, column given_name (line 2)" in page and "&#39;Jörg&#39;" in page
    thai = owner.get(job_url, headers={"Accept-Language": "th"}).text
    assert "แถวข้อมูลที่ 1 คอลัมน์ given_name (บรรทัด 2)" in thai and "ไฟล์นี้น่าจะไม่ใช่ภาษาไทย" in thai
    assert live.state.backends.accounts.find(f"{local}@{world.a}") is None

    job_url = _upload(owner, body, encoding="latin-1")
    status = _settled(owner, job_url)
    assert (status["state"], status["to_create"], status["rejected"]) == ("validated", 1, 0)

    unknown = owner.http.post("/imports", data={"csrf_token": owner.csrf, "encoding": "klingon"},
                              files={"file": ("western.csv", body, "text/csv")})
    assert unknown.status_code == 400 and "klingon" in unknown.text


def test_the_bad_rows_of_a_stored_job_read_in_the_pages_language(
        live: Live, world: World, new_client) -> None:  # type: ignore[no-untyped-def]
    """A row's reason is kept as a code with parameters (issue 16): the page renders it in
    Thai from the store, as it renders it in English, and the CSV report keeps the English."""
    owner: Client = new_client()
    owner.login_admin(world.admin_a)
    local = f"row{uuid.uuid4().hex[:6]}"
    body = (f"email,given_name,surname\n{local}@{world.a},A,B\n{local}.{world.a},C,D\n"
            f"{local}@{world.a},E,F\n").encode()
    job_url = _upload(owner, body)
    status = _settled(owner, job_url)
    assert (status["state"], status["rejected"]) == ("validated", 2)
    english = owner.get(job_url, headers={"Accept-Language": "en"}).text
    assert "missing &#39;@&#39;" in english and "duplicate: row 1 has the same address" in english
    thai = owner.get(job_url, headers={"Accept-Language": "th"}).text
    assert "ไม่มี &#39;@&#39;" in thai and "ซ้ำ: แถว 1 มีที่อยู่เดียวกัน" in thai
    assert "missing" not in thai and "duplicate" not in thai


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
