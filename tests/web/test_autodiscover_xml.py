"""Outlook's autodiscover request is XML from anyone: a document type declaration (and so
any entity) is refused by the parser itself, in whatever encoding the body comes, and a
plain request still gets its settings."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import Live, World

PATH = "/autodiscover/autodiscover.xml"
NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"


def request_xml(address: str, prolog: str = "", encoding: str = "utf-8") -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?>{prolog}'
            f'<Autodiscover xmlns="{NS}"><Request><EMailAddress>{address}</EMailAddress>'
            f"<AcceptableResponseSchema>{NS}</AcceptableResponseSchema></Request></Autodiscover>")


def post(live: Live, body: bytes) -> httpx.Response:
    return httpx.post(live.url + PATH, content=body, headers={"Content-Type": "text/xml"}, timeout=60)


def test_a_plain_request_gets_the_settings(live: Live, world: World) -> None:
    answer = post(live, request_xml(world.user_a).encode("utf-8"))
    assert answer.status_code == 200, answer.text
    assert f"<LoginName>{world.user_a}</LoginName>" in answer.text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-8"])
def test_an_internal_entity_is_refused_in_any_encoding(live: Live, world: World, codec: str) -> None:
    # The entity would expand to a hosted address: if it were expanded, the answer would be
    # that account's settings.
    dtd = f'<!DOCTYPE Autodiscover [<!ENTITY who "{world.user_a}">]>'
    text = request_xml("&who;", dtd, "utf-16" if codec.startswith("utf-16") else "utf-8")
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-8": b""}[codec]
    answer = post(live, bom + text.encode(codec))
    assert answer.status_code == 400, answer.text
    assert world.user_a not in answer.text
    assert "document type" in answer.text


def test_a_doctype_without_entities_is_refused_in_utf16(live: Live, world: World) -> None:
    text = request_xml(world.user_a, "<!DOCTYPE Autodiscover>", "utf-16")
    answer = post(live, b"\xff\xfe" + text.encode("utf-16-le"))
    assert answer.status_code == 400 and "document type" in answer.text
