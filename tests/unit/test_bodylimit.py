"""web/bodylimit.py on a tiny app: caps per path, a Content-Length over the cap refused
before the app runs, a streamed body cut at the cap even when the app swallows the error,
and the 413 page in the reader's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from mailgothai.settings import Settings
from mailgothai.web.bodylimit import AUTODISCOVER_MAX, BodyCaps, BodyLimit
from mailgothai.web.i18n import load_translations

CAPS = BodyCaps(body=1000, upload=5000)


async def chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


class Client:
    def __init__(self, app: Starlette) -> None:
        self.app = app

    def post(self, path: str, content: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t") as c:
                return await c.post(path, content=content, headers=headers)

        return anyio.run(send)


def client() -> tuple[Client, list[str]]:
    ran: list[str] = []

    async def echo(request: Request) -> Response:
        ran.append(request.url.path)
        return PlainTextResponse(str(len(await request.body())))

    async def swallow(request: Request) -> Response:
        ran.append(request.url.path)
        try:
            await request.body()
        except Exception:  # noqa: BLE001 - an app that catches too much
            pass
        return PlainTextResponse("accepted")

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/api/v1/echo", echo, methods=["POST"]),
                            Route("/imports", echo, methods=["POST"]), Route("/swallow", swallow, methods=["POST"])],
                    middleware=[Middleware(BodyLimit, caps=CAPS, translations=load_translations())])
    return Client(app), ran


def test_caps_by_path() -> None:
    assert CAPS.for_path("/domains/new") == 1000
    assert CAPS.for_path("/api/v1/imports") == CAPS.for_path("/imports") == 5000
    big = BodyCaps.from_settings(Settings())
    assert big.for_path("/autodiscover/autodiscover.xml") == AUTODISCOVER_MAX < big.body < big.upload


def test_a_body_within_its_cap_goes_through() -> None:
    c, _ = client()
    assert c.post("/echo", content=chunks(1000)).text == "1000"
    assert c.post("/imports", content=chunks(5000)).text == "5000"


def test_a_declared_length_over_the_cap_never_reaches_the_app() -> None:
    c, ran = client()
    answer = c.post("/api/v1/echo", content=b"x" * 1001)
    assert answer.status_code == 413 and answer.json()["status"] == 413 and ran == []


def test_a_streamed_body_is_cut_at_the_cap_even_if_the_app_swallows_the_error() -> None:
    c, ran = client()
    assert c.post("/echo", content=chunks(10_000)).status_code == 413
    swallowed = c.post("/swallow", content=chunks(10_000))
    assert swallowed.status_code == 413 and "accepted" not in swallowed.text
    assert ran == ["/echo", "/swallow"]


def test_the_page_is_in_the_readers_language() -> None:
    c, _ = client()
    thai = c.post("/echo", content=chunks(2000), headers={"Accept-Language": "th"})
    assert thai.status_code == 413 and "คำขอมีขนาดใหญ่เกินไป" in thai.text and "1000 B" in thai.text
    english = c.post("/echo", content=chunks(2000), headers={"Accept-Language": "en"})
    assert "The request is too large" in english.text
