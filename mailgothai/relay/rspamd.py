"""rspamd's HTTP protocol, as the relay speaks it: one message POSTed to the normal
worker's `/checkv2` with its envelope in headers (`From`, one `Rcpt` per recipient, `IP`,
`Helo`, `User` for an authenticated sender, `Queue-Id`, optionally `Settings`), the JSON
reply read into core.spam.Scan.

One httpx.AsyncClient is kept open (its connections are reused). Every failure -
refused, reset, silent past `timeout` seconds in all, an HTTP error, a reply that is not
what rspamd sends - is one exception, ScanUnavailable: a reply the relay cannot read is
never taken as a pass.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mailgothai.core.spam import Scan
from mailgothai.errors import BackendError

ACTIONS = frozenset({"reject", "soft reject", "rewrite subject", "add header", "greylist", "no action"})
MAX_SYMBOLS = 1000  # rspamd gives a few dozen; more is not an answer of rspamd's
MAX_OPTIONS = 50  # options kept per symbol
MAX_TEXT = 500  # characters kept of an option or of rspamd's message


class ScanUnavailable(BackendError):
    """rspamd could not give a verdict now (unreachable, hung, an error, an unreadable reply)."""


@dataclass(frozen=True)
class ScanRequest:
    """The envelope rspamd is told about. `user`: the authenticated login, if any."""

    sender: str  # the envelope sender; "" for <>
    recipients: Sequence[str]
    ip: str
    helo: str = ""
    user: str = ""
    queue_id: str = ""
    settings: Mapping[str, Any] | None = None  # rspamd's per-request settings (the Settings header)


def _header_value(text: str) -> bytes:
    """A header-safe value: control characters (CR, LF, NUL, ...) dropped, UTF-8."""
    return "".join(c for c in text if c.isprintable())[:1000].encode("utf-8")


def request_headers(request: ScanRequest) -> list[tuple[bytes, bytes]]:
    headers = [(b"From", _header_value(request.sender)), (b"IP", _header_value(request.ip))]
    headers += [(b"Rcpt", _header_value(r)) for r in request.recipients]
    if request.helo:
        headers.append((b"Helo", _header_value(request.helo)))
    if request.user:
        headers.append((b"User", _header_value(request.user)))
    if request.queue_id:
        headers.append((b"Queue-Id", _header_value(request.queue_id)))
    if request.settings is not None:
        headers.append((b"Settings", json.dumps(request.settings, separators=(",", ":")).encode()))
    return headers


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ScanUnavailable(f"rspamd's reply: {what} is not a string")
    return value[:MAX_TEXT]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScanUnavailable(f"rspamd's reply: {what} is not a finite number")
    return float(value)


def parse_reply(body: bytes) -> Scan:
    """rspamd's /checkv2 JSON as a Scan; ScanUnavailable for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScanUnavailable(f"rspamd's reply is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ScanUnavailable("rspamd's reply is not a JSON object")
    if "error" in data and "action" not in data:
        raise ScanUnavailable(f"rspamd answered an error: {str(data['error'])[:MAX_TEXT]}")
    action = _text(data.get("action"), "action")
    if action not in ACTIONS:
        raise ScanUnavailable(f"rspamd's reply: unknown action {action!r}")
    score = _number(data.get("score"), "score")
    raw_symbols = data.get("symbols", {})
    if not isinstance(raw_symbols, dict) or len(raw_symbols) > MAX_SYMBOLS:
        raise ScanUnavailable("rspamd's reply: symbols is not an object of symbols")
    symbols: dict[str, float] = {}
    options: dict[str, tuple[str, ...]] = {}
    for name, symbol in raw_symbols.items():
        if not isinstance(symbol, dict):
            raise ScanUnavailable(f"rspamd's reply: symbol {name[:100]!r} is not an object")
        symbols[name] = _number(symbol.get("score", 0.0), f"the score of {name[:100]}")
        found = symbol.get("options", [])
        if not isinstance(found, list):
            raise ScanUnavailable(f"rspamd's reply: the options of {name[:100]} are not a list")
        if found:
            options[name] = tuple(_text(o, f"an option of {name[:100]}") for o in found[:MAX_OPTIONS])
    messages = data.get("messages", {})
    message = ""
    if isinstance(messages, dict) and "smtp_message" in messages:
        message = _text(messages["smtp_message"], "messages.smtp_message")
    return Scan(action=action, score=score, symbols=symbols, options=options, message=message)


def ping(host: str, port: int, timeout: float = 2.0) -> bool:
    """rspamd's normal worker answers `GET /ping` with "pong" (blocking; `relay health`)."""
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/ping")
        reply = connection.getresponse()
        return reply.status == 200 and reply.read(64).strip() == b"pong"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


class RspamdClient:
    """Asks rspamd's normal worker at `host:port`; at most `timeout` seconds a message."""

    def __init__(self, host: str, port: int, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = f"http://{host}:{port}/checkv2"
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._transport = transport

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # made in the event loop that uses it
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), transport=self._transport,
                                             limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                                             trust_env=False)
        return self._client

    async def check(self, message: bytes, request: ScanRequest) -> Scan:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http().post(self.url, content=message, headers=request_headers(request))
        except TimeoutError as exc:
            raise ScanUnavailable(f"rspamd did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise ScanUnavailable(f"rspamd unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise ScanUnavailable(f"rspamd answered HTTP {response.status_code}: {response.text[:200]!r}")
        return parse_reply(response.content)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
