"""Room in a mailbox, asked of Dovecot's quota-status service (Postfix policy protocol
over a unix socket), answered from Dovecot's own quota count. A few connections are
kept open and reused (one request at a time on each). Messages this relay has accepted
but not yet handed to Dovecot are added to the size asked about (hold/settle).

Room confirmed ahead: each question costs Dovecot a user setup, as much CPU as a
delivery. So the relay asks whether the mailbox could take the message plus a margin
(`grant_bytes`); when it can, later messages to that mailbox are accepted against that
margin without asking, for `grant_seconds` at most and only while the account's
directory entry is unchanged (a new quota ends the grant at once). Every message
accepted since the question counts against the margin, delivered or not, so what is
accepted never exceeds what Dovecot confirmed. A mailbox without that much room is
asked exactly, message by message, for the same while.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mailgothai.errors import MailStoreError

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
MAX_GRANTS = 100_000  # remembered mailboxes; expired ones are dropped when this is reached


@dataclass
class _Grant:
    version: str  # the account entry's entryCSN when Dovecot was asked
    room: int  # bytes Dovecot confirmed the mailbox could take beyond its usage then; 0: ask exactly
    used: int  # bytes counted against `room` since (queued then + accepted since)
    until: float  # monotonic expiry


class QuotaStatus:
    def __init__(self, socket_path: Path, timeout: float = 5.0, keep: int = 4, *, grant_bytes: int = 0,
                 grant_seconds: float = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = str(socket_path)
        self._timeout = timeout
        self._keep = keep
        self._idle: list[_Conn] = []
        self._pending: dict[str, int] = {}  # address -> bytes accepted here, not yet handed to Dovecot
        self._held: dict[tuple[str, str], int] = {}  # (queue id, address) -> bytes
        self._grant_bytes = grant_bytes if grant_seconds > 0 else 0
        self._grant_seconds = grant_seconds
        self._clock = clock
        self._grants: dict[str, _Grant] = {}

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

    async def has_room(self, address: str, size: int, version: str = "") -> bool:
        """False when Dovecot says the mailbox cannot take `size` more bytes (besides what
        is queued here for it). An unknown user has room here: the directory has already
        decided whether it exists. `version` is the account entry's entryCSN."""
        pending = self._pending.get(address, 0)
        if not self._grant_bytes:
            return await self._ask_room(address, size + pending)
        now = self._clock()
        grant = self._grants.get(address)
        if grant is not None and (grant.until <= now or grant.version != version):
            grant = None
        if grant is not None and grant.room and grant.used + size <= grant.room:
            return True
        if grant is None or grant.room:  # no recent answer, or its margin is spent: ask ahead
            if len(self._grants) >= MAX_GRANTS:
                self._grants = {a: g for a, g in self._grants.items() if g.until > now}
                if len(self._grants) >= MAX_GRANTS:
                    self._grants.clear()
            ahead = size + pending + self._grant_bytes
            # In place before the answer (with no room yet): messages accepted meanwhile
            # count against it, and other questions meanwhile are asked exactly.
            grant = self._grants[address] = _Grant(version, 0, pending, now + self._grant_seconds)
            if await self._ask_room(address, ahead):
                grant.room = ahead
                return True
        return await self._ask_room(address, size + pending)  # little room: ask exactly

    async def _ask_room(self, address: str, size: int) -> bool:
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

    # ---- messages accepted but not yet delivered ----------------------------------------
    # Dovecot does not count a message still in this relay's queue: without this, a
    # mailbox with room for one more message would take every message that arrives before
    # the first is delivered, and all but one would bounce.
    def hold(self, queue_id: str, addresses: list[str], size: int) -> None:
        """Count `size` bytes against each local address until settle()."""
        for address in addresses:
            if (queue_id, address) not in self._held:
                self._held[(queue_id, address)] = size
                self._pending[address] = self._pending.get(address, 0) + size
                grant = self._grants.get(address)
                if grant is not None:
                    grant.used += size

    def settle(self, queue_id: str, addresses: list[str]) -> None:
        """The delivery attempt to these addresses is over (delivered, refused or deferred)."""
        for address in addresses:
            size = self._held.pop((queue_id, address), None)
            if size is None:
                continue
            left = self._pending.get(address, 0) - size
            if left > 0:
                self._pending[address] = left
            else:
                self._pending.pop(address, None)

    def close(self) -> None:
        for _, writer in self._idle:
            with contextlib.suppress(Exception):
                writer.close()
        self._idle.clear()
