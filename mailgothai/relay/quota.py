"""Room in a mailbox, asked of Dovecot's quota-status service (Postfix policy protocol
over a unix socket), answered from Dovecot's own quota count. A few connections are
kept open and reused (one request at a time on each). Messages this relay has accepted
but not yet handed to Dovecot are added to the size asked about (hold/settle), and a
question may confirm room ahead for the next messages (`core/room.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from mailgothai.core.room import RoomGrants
from mailgothai.errors import MailStoreError

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class QuotaStatus:
    def __init__(self, socket_path: Path, timeout: float = 5.0, keep: int = 4, *, grant_bytes: int = 0,
                 grant_seconds: float = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = str(socket_path)
        self._timeout = timeout
        self._keep = keep
        self._idle: list[_Conn] = []
        self._pending: dict[str, int] = {}  # address -> bytes accepted here, not yet handed to Dovecot
        self._held: dict[tuple[str, str], int] = {}  # (queue id, address) -> bytes
        self._grants = RoomGrants(grant_bytes, grant_seconds, clock)
        self.asked = 0  # questions sent to Dovecot (relay/metrics.py)

    async def _connect(self) -> _Conn:
        try:
            return await asyncio.wait_for(asyncio.open_unix_connection(self._path), self._timeout)
        except (TimeoutError, OSError) as exc:
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
        if self._grants.covered(address, size, version):
            return True
        grant = self._grants.open(address, size, pending, version)
        if grant is not None and await self._ask_room(address, grant.asked):
            grant.room = grant.asked
            return True
        return await self._ask_room(address, size + pending)  # grants off, or little room: ask exactly

    async def _ask_room(self, address: str, size: int) -> bool:
        self.asked += 1  # relay/metrics.py
        request = (f"request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient={address}\n"
                   f"size={size}\n\n").encode()
        conn = self._idle.pop() if self._idle else None
        answer = None
        for fresh in ((False, True) if conn is not None else (True,)):
            if fresh:
                conn = await self._connect()
            assert conn is not None
            try:
                answer = await self._ask(conn, request)
                break
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
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
                self._grants.accepted(address, size)

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
