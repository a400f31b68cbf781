"""A domain's DKIM keys on the web (issue 19): the domain's page links to them; the page
lists each key, its state and its DNS record (a zone file's TXT line in ≤255-character
strings); its forms (CSRF like every form) generate, rotate and activate through the
same service as the CLI and the API, one audit record each, origin web; another
domain's page and forms are not found; Thai and English with nothing left untranslated.
The same in a real browser: test_dkim_browser.py."""

from __future__ import annotations

import html
import re

import pytest

from tests.web.conftest import Client, Live
from tests.web.test_dkim_api import Agencies, _strings, agencies, audit_rows, keys_of
from tests.web.test_i18n import untranslated

pytestmark = pytest.mark.sql
__all__ = ["agencies"]  # the fixture


def test_the_page_lists_keys_and_records_and_its_forms_work(live: Live, agencies: Agencies,
                                                            client: Client) -> None:
    assert client.login_admin(agencies.admin).status_code == 303
    domain_page = client.get(f"/domains/{agencies.mine}").text
    assert f'href="/domains/{agencies.mine}/dkim"' in domain_page
    assert "will be shown here" not in domain_page
    base = f"/domains/{agencies.mine}/dkim"
    assert "No DKIM keys" in client.get(base).text

    assert client.post(f"{base}/generate", {"algorithm": "rsa", "csrf_token": "forged"}).status_code == 403
    assert keys_of(live, agencies.mine) == []
    made = client.post(f"{base}/generate", {"algorithm": "rsa"})
    assert made.status_code == 303 and made.headers["location"] == f"{base}?notice=dkim-generated"
    [first] = keys_of(live, agencies.mine)
    page = client.get(made.headers["location"]).text
    assert "publish its DNS record" in page
    row = re.search(rf'<tr id="dkim-{first.selector}" data-state="active">', page)
    assert row, page
    shown = re.search(rf'<pre id="record-{first.selector}" translate="no">([^<]*)</pre>', page)
    assert shown
    record = html.unescape(shown.group(1))
    assert record.startswith(f"{first.selector}._domainkey.{agencies.mine}. IN TXT (")
    assert len(_strings(record)) == 2 and all(len(s) <= 255 for s in _strings(record))
    assert "".join(_strings(record)) == first.public_record

    refused = client.post(f"{base}/generate", {"algorithm": "rsa"})  # a live rsa key: rotate it instead
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert len(keys_of(live, agencies.mine)) == 1

    assert client.post(f"{base}/rotate", {"algorithm": "rsa"}).status_code == 303
    pending = next(k for k in keys_of(live, agencies.mine) if k.state.value == "pending")
    page = client.get(base).text
    assert f'id="record-{pending.selector}"' in page and f"{base}/{pending.selector}/activate" in page
    assert client.post(f"{base}/{pending.selector}/activate").status_code == 303
    assert {k.selector: k.state.value for k in keys_of(live, agencies.mine)} == {
        first.selector: "retiring", pending.selector: "active"}
    assert audit_rows(live, agencies.mine) == [(action, agencies.admin, "web") for action in (
        "dkim.generate", "dkim.rotate", "dkim.activate")]

    other = client.get(f"/domains/{agencies.other}/dkim")
    assert other.status_code == 404
    assert client.post(f"/domains/{agencies.other}/dkim/rotate", {"algorithm": "rsa"}).status_code == 404

    for lang, copy in (("th", "คัดลอกระเบียน"), ("en", "Copy the record")):
        client.http.cookies.set("mgt_lang", lang)
        page = client.get(base).text
        assert f'<html lang="{lang}">' in page and copy in page
        assert untranslated(page, lang) == [], lang
