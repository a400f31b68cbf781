"""rspamd's HTTP protocol, as the relay speaks it: one message POSTed to the normal
worker's `/checkv2` with its envelope in headers (`From`, one `Rcpt` per recipient, `IP`,
`Helo`, `User` for an authenticated sender, `Queue-Id`, optionally `Settings`), the JSON
reply read into core.spam.Scan.

HTTP/1.1 is spoken with h11 (the protocol, sans I/O) over asyncio's streams: a scan is on
every message's path, and httpx's layers cost ~0.5 ms of CPU a request where this costs
~0.05 (BENCHMARKS.md, issue 18). A connection rspamd keeps open is reused; rspamd 3.4
closes it after each reply, so usually each scan connects anew (loopback: cheap). Every
failure - refused, reset, silent past `timeout` seconds in all, an HTTP error, a reply
that is not what rspamd sends - is one exception, ScanUnavailable: a reply the relay
cannot read is never taken as a pass.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import h11

from mailgothai.core.spam import Scan
from mailgothai.errors import BackendError

ACTIONS = frozenset({"reject", "soft reject", "rewrite subject", "add header", "greylist", "no action"})
MAX_SYMBOLS = 1000  # rspamd gives a few dozen; more is not an answer of rspamd's
MAX_OPTIONS = 50  # options kept per symbol
MAX_TEXT = 500  # characters kept of an option or of rspamd's message
MAX_REPLY = 4 * 1024 * 1024  # bytes of a reply read at most (rspamd's are a few KB)
KEPT_CONNECTIONS = 16

# POSTs a body with headers, answers the status and the reply's body (tests give their own)
Send = Callable[[bytes, list[tuple[bytes, bytes]]], Awaitable[tuple[int, bytes]]]


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


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.http = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.writer.close()


class RspamdClient:
    """Asks rspamd's normal worker at `host:port`; at most `timeout` seconds a message."""

    def __init__(self, host: str, port: int, timeout: float, send: Send | None = None) -> None:
        self.host, self.port = host, port
        self.timeout = timeout
        self._send: Send = send or self._post
        self._idle: list[_Connection] = []

    async def check(self, message: bytes, request: ScanRequest) -> Scan:
        try:
            async with asyncio.timeout(self.timeout):
                status, body = await self._send(message, request_headers(request))
        except TimeoutError as exc:
            raise ScanUnavailable(f"rspamd did not answer within {self.timeout:g} s") from exc
        except (OSError, h11.ProtocolError, EOFError) as exc:
            raise ScanUnavailable(f"rspamd unreachable: {type(exc).__name__}: {exc}") from exc
        if status != 200:
            raise ScanUnavailable(f"rspamd answered HTTP {status}: {body[:200]!r}")
        return parse_reply(body)

    async def _post(self, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        connection = self._idle.pop() if self._idle else _Connection(
            *await asyncio.open_connection(self.host, self.port))
        try:
            status, reply = await self._exchange(connection, body, headers)
        except BaseException:
            connection.close()  # half a request or reply: never reused
            raise
        http = connection.http
        if http.our_state is h11.DONE and http.their_state is h11.DONE and len(self._idle) < KEPT_CONNECTIONS:
            http.start_next_cycle()
            self._idle.append(connection)
        else:
            connection.close()
        return status, reply

    async def _exchange(self, connection: _Connection, body: bytes,
                        headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        http = connection.http
        head = [(b"Host", f"{self.host}:{self.port}".encode()), (b"Content-Length", str(len(body)).encode()),
                *headers]
        connection.writer.write(b"".join((http.send(h11.Request(method="POST", target="/checkv2", headers=head))
                                          or b"", http.send(h11.Data(data=body)) or b"",
                                          http.send(h11.EndOfMessage()) or b"")))
        await connection.writer.drain()
        status, chunks, size = 0, [], 0
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await connection.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_REPLY:
                    raise h11.RemoteProtocolError("reply too large")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("rspamd closed the connection before its reply ended")

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
