"""An LMTP client (RFC 2033) for delivery into Dovecot, with connections kept open and
reused (RSET between messages). Commands are pipelined: MAIL, every RCPT and DATA go
in one write; the caller's `on_data` hears which recipients the data is about to go to
(from then on Dovecot may store it); after the data, one reply per accepted recipient,
each handed to `on_reply` (and a 2xx to `on_delivered`) as soon as it is read, so it is
recorded before the next is read.

A connection that fails before the data is sent has delivered nothing: the pool tries
once more on a fresh one. One that fails after has delivered to an unknown part of the
recipients: they get a temporary failure (retried later — at least once), never an
immediate second try."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from mailgothai.core.dkim import to_crlf

Recipients = Callable[[list[str]], None]


@dataclass(frozen=True)
class LmtpReply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


class LmtpError(Exception):
    """The connection failed: every recipient of the attempt is a temporary failure."""


def dot_stuff(message: bytes) -> bytes:
    data = to_crlf(message)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


class LmtpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False
        self.broken = False  # failed after a message's data was sent: never reused

    @classmethod
    async def open(cls, host: str, port: int, hostname: str, timeout: float) -> LmtpConnection:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (TimeoutError, OSError) as exc:
            raise LmtpError(f"LMTP {host}:{port} unreachable: {exc}") from exc
        conn = cls(reader, writer)
        await conn._expect(await conn._reply(timeout), 220)
        writer.write(f"LHLO {hostname}\r\n".encode("ascii"))
        await conn._expect(await conn._reply(timeout), 250)
        return conn

    async def _reply(self, timeout: float) -> LmtpReply:
        lines: list[str] = []
        while True:
            try:
                raw = await asyncio.wait_for(self.reader.readline(), timeout)
            except (TimeoutError, OSError) as exc:
                raise LmtpError(f"LMTP read failed: {exc!r}") from exc
            if not raw:
                raise LmtpError("LMTP server closed the connection")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if len(line) < 3 or not line[:3].isdigit():
                raise LmtpError(f"LMTP: malformed reply {line!r}")
            lines.append(line[4:])
            if line[3:4] != "-":
                return LmtpReply(int(line[:3]), " ".join(lines))

    @staticmethod
    async def _expect(reply: LmtpReply, code: int) -> None:
        if reply.code != code:
            raise LmtpError(f"LMTP: expected {code}, got {reply}")

    async def deliver(self, sender: str, recipients: list[str], message: bytes, timeout: float,
                      on_delivered: Callable[[str], None] | None = None, on_data: Recipients | None = None,
                      on_reply: Callable[[str, LmtpReply], None] | None = None) -> dict[str, LmtpReply]:
        """One reply per recipient (2xx delivered, 4xx retry, 5xx refused). Raises
        LmtpError only while nothing can have been delivered."""
        w = self.writer
        commands = [b"RSET\r\n"] if self.used else []
        self.used = True
        commands.append(f"MAIL FROM:<{sender}>\r\n".encode())
        commands.extend(f"RCPT TO:<{r}>\r\n".encode() for r in recipients)
        commands.append(b"DATA\r\n")
        w.write(b"".join(commands))
        if len(commands) > len(recipients) + 2:
            await self._expect(await self._reply(timeout), 250)  # RSET
        mail = await self._reply(timeout)
        results: dict[str, LmtpReply] = {}
        accepted: list[str] = []
        for r in recipients:
            answer = await self._reply(timeout)
            if mail.code != 250:
                answer = mail
            results[r] = answer
            if answer.code == 250:
                accepted.append(r)
        data_reply = await self._reply(timeout)
        if data_reply.code != 354:
            # Nobody accepted (or DATA refused): nothing to send; the session is reset next time.
            for r in accepted:
                results[r] = data_reply
            return results
        if on_data is not None:
            on_data(accepted)
        w.write(dot_stuff(message))
        final: dict[str, LmtpReply] = {}
        try:
            await w.drain()
            for r in accepted:
                final[r] = await self._reply(timeout)
                if on_reply is not None:
                    on_reply(r, final[r])
                if on_delivered is not None and final[r].code // 100 == 2:
                    on_delivered(r)
        except (OSError, LmtpError) as exc:
            self.broken = True
            unknown = LmtpReply(451, f"4.4.2 LMTP connection lost after the data ({exc}); will retry")
            final.update({r: unknown for r in accepted if r not in final})
        results.update(final)
        return results

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class LmtpPool:
    """Up to `size` open connections; a broken one is dropped and replaced."""

    def __init__(self, host: str, port: int, size: int, hostname: str, timeout: float = 60.0) -> None:
        self._host, self._port, self._hostname, self._timeout = host, port, hostname, timeout
        self._idle: list[LmtpConnection] = []
        self._slots = asyncio.Semaphore(size)

    async def deliver(self, sender: str, recipients: list[str], message: bytes,
                      on_delivered: Callable[[str], None] | None = None, on_data: Recipients | None = None,
                      on_reply: Callable[[str, LmtpReply], None] | None = None) -> dict[str, LmtpReply]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            for attempt in (1, 2):
                fresh = conn is None
                if conn is None:
                    conn = await LmtpConnection.open(self._host, self._port, self._hostname, self._timeout)
                try:
                    results = await conn.deliver(sender, recipients, message, self._timeout, on_delivered,
                                                 on_data, on_reply)
                except LmtpError:  # (raised only before the data: nothing delivered)
                    conn.close()
                    conn = None
                    if fresh or attempt == 2:
                        raise
                    continue  # a reused connection may have been closed by Dovecot: one fresh try
                if conn.broken:
                    conn.close()
                else:
                    self._idle.append(conn)
                return results
            raise LmtpError("unreachable")

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
