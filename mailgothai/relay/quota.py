"""Room in a mailbox, asked of Dovecot's quota-status service (Postfix policy protocol
over a unix socket): cheap, answered from Dovecot's own quota count. A few connections
are kept open and reused (one request at a time on each)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from mailgothai.errors import MailStoreError

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class QuotaStatus:
    def __init__(self, socket_path: Path, timeout: float = 5.0, keep: int = 4) -> None:
        self._path = str(socket_path)
        self._timeout = timeout
        self._keep = keep
        self._idle: list[_Conn] = []

    async def _connect(self) -> _Conn:
        try:
            return await asyncio.wait_for(asyncio.open_unix_connection(self._path), self._timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise MailStoreError(f"Dovecot quota-status unreachable: {exc}") from exc

    async def _ask(self, conn: _Conn, request: bytes) -> bytes:
        reader, writer = conn
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\n\n"), self._timeout)

    async def has_room(self, address: str, size: int) -> bool:
        """False when Dovecot says the mailbox cannot take `size` more bytes. An unknown
        user has room here: the directory has already decided whether it exists."""
        request = (f"request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient={address}\n"
                   f"size={size}\n\n").encode("utf-8")
        conn = self._idle.pop() if self._idle else None
        answer = None
        for fresh in ((False, True) if conn is not None else (True,)):
            if fresh:
                conn = await self._connect()
            assert conn is not None
            try:
                answer = await self._ask(conn, request)
                break
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                conn[1].close()
                conn = None
                if fresh:  # a reused connection may have been closed by Dovecot: one fresh try
                    raise MailStoreError(f"Dovecot quota-status failed: {exc}") from exc
        assert conn is not None and answer is not None
        if len(self._idle) < self._keep:
            self._idle.append(conn)
        else:
            conn[1].close()
        action = answer.decode("utf-8", "replace").strip()
        if not action.startswith("action="):
            raise MailStoreError(f"Dovecot quota-status: unexpected answer {action!r}")
        verdict = action[len("action="):]
        return verdict[:1] not in ("4", "5") and not verdict.upper().startswith(("REJECT", "DEFER"))

    def close(self) -> None:
        for _, writer in self._idle:
            with contextlib.suppress(Exception):
                writer.close()
        self._idle.clear()
