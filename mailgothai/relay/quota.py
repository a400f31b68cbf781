"""Room in a mailbox: read from the usage Dovecot copies to files (its quota_clone plugin,
`MAIL_ROOT/.quota-clone/USER/quota/storage`, rewritten after every change of a mailbox),
and asked of Dovecot's quota-status service (Postfix policy protocol over a unix socket)
whenever that copy does not show the message surely fits: a full (or nearly full)
mailbox, one with no copy yet, no quota set. So every refusal is Dovecot's own answer,
and the common case costs a file read instead of Dovecot setting up the user (~2 ms of
its CPU a question, as much as delivering the message). A few quota-status connections
are kept open and reused (one request at a time on each)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from mailgothai.core.quota import fits_by_usage
from mailgothai.errors import MailStoreError

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def cloned_usage(clone_root: Path, address: str) -> int | None:
    """The bytes Dovecot last recorded for the user's mailbox, or None (no copy, unreadable,
    or a name that is no plain file name)."""
    if not address or "/" in address or address.startswith(".") or "\0" in address:
        return None
    try:
        text = (clone_root / address / "quota" / "storage").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class QuotaStatus:
    def __init__(self, socket_path: Path, timeout: float = 5.0, keep: int = 4,
                 clone_root: Path | None = None) -> None:
        self._clone_root = clone_root
        self._pending: dict[str, int] = {}  # address -> bytes accepted here, not yet handed to Dovecot
        self._held: dict[tuple[str, str], int] = {}  # (queue id, address) -> bytes
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

    async def has_room(self, address: str, size: int, limit: int = 0) -> bool:
        """False when Dovecot says the mailbox cannot take `size` more bytes. `limit`: the
        mailbox's quota from the directory (0: unknown), to answer from the cloned usage
        when the message surely fits. An unknown user has room here: the directory has
        already decided whether it exists."""
        pending = self._pending.get(address, 0)
        if self._clone_root is not None and limit > 0:
            used = cloned_usage(self._clone_root, address)
            if used is not None and fits_by_usage(limit, used + pending, size):
                return True
        request = (f"request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient={address}\n"
                   f"size={size + pending}\n\n").encode("utf-8")
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
    # Neither Dovecot nor its copy counts a message still in this relay's queue: without
    # this, a mailbox with room for one more message would accept every message that
    # arrives before the first is delivered, and all but one would bounce.
    def hold(self, queue_id: str, addresses: list[str], size: int) -> None:
        """Count `size` bytes against each local address until settle()."""
        for address in addresses:
            if (queue_id, address) not in self._held:
                self._held[(queue_id, address)] = size
                self._pending[address] = self._pending.get(address, 0) + size

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
