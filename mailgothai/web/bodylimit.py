"""Every request body capped while it streams, whoever sends it.

An ASGI middleware wraps `receive`: a `Content-Length` over the route's cap is answered
413 before the app runs; otherwise the bytes are counted as they arrive, and the first
chunk past the cap ends the request with 413 (the app's own answer, if it catches the
error and tries one, is replaced). The caps (`BodyCaps`, from the settings):
`web_max_body` for forms and JSON, a smaller fixed one for autodiscover's XML, and
`web_max_upload` for the CSV import uploads, which go to a file, never to memory.

Who may send a body at all is checked before it is read, by the routes themselves
(`api.common.endpoint`, `context.page`); this only bounds what anyone can send.
"""

from __future__ import annotations

import gettext
import json
from dataclasses import dataclass
from html import escape

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailgothai.settings import Settings
from mailgothai.web.formatting import size
from mailgothai.web.i18n import LANG_COOKIE, N_, negotiate

UPLOAD_PATHS = frozenset({"/imports", "/api/v1/imports", "/api/v1/domain-imports"})
AUTODISCOVER_PATHS = frozenset({"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"})
AUTODISCOVER_MAX = 16 * 1024  # a real request is a few hundred bytes

TITLE = N_("The request is too large")
MESSAGE = N_("This page accepts at most %(size)s. Nothing was changed.")


class BodyTooLarge(Exception):
    """Raised from `receive` once a body passes its cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class BodyCaps:
    body: int  # forms and JSON
    upload: int  # CSV import uploads

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyCaps:
        return cls(body=settings.web_max_body, upload=settings.web_max_upload)

    def for_path(self, path: str) -> int:
        if path in UPLOAD_PATHS:
            return self.upload
        if path in AUTODISCOVER_PATHS:
            return min(AUTODISCOVER_MAX, self.body)
        return self.body


def declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length", "")
    return int(value) if value.isdigit() else None


class BodyLimit:
    def __init__(self, app: ASGIApp, caps: BodyCaps, translations: dict[str, gettext.NullTranslations]) -> None:
        self.app = app
        self.caps = caps
        self.translations = translations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.caps.for_path(scope["path"])
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await self.refuse(scope, send, limit)
            return
        received = 0
        exceeded = started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app answers a body it did not get whole: ours goes instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self.refuse(scope, send, limit)

    async def refuse(self, scope: Scope, send: Send, limit: int) -> None:
        if scope["path"].startswith("/api/"):
            body = json.dumps({"type": "/api/v1/problems/too-large", "title": "Request body too large",
                               "status": 413, "detail": f"at most {limit} bytes"}).encode()
            media = b"application/problem+json"
        else:
            headers = Headers(scope=scope)
            cookie = next((c.split("=", 1)[1] for c in headers.get("cookie", "").split("; ")
                           if c.startswith(LANG_COOKIE + "=")), None)
            lang = negotiate(cookie, headers.get("accept-language"))
            _ = self.translations[lang].gettext
            title, message = escape(_(TITLE)), escape(_(MESSAGE) % {"size": size(limit)})
            body = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
                    f"</head><body><h1>{title}</h1><p>{message}</p></body></html>").encode()
            media = b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
