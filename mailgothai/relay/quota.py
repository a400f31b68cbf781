"""Room in a mailbox, asked of Dovecot's quota-status service (Postfix policy protocol
over a unix socket): cheap, answered from Dovecot's own quota count."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mailgothai.errors import MailStoreError


class QuotaStatus:
    def __init__(self, socket_path: Path, timeout: float = 5.0) -> None:
        self._path = str(socket_path)
        self._timeout = timeout

    async def has_room(self, address: str, size: int) -> bool:
        """False when Dovecot says the mailbox cannot take `size` more bytes. An unknown
        user has room here: the directory has already decided whether it exists."""
        request = f"request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient={address}\nsize={size}\n\n"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self._path), self._timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise MailStoreError(f"Dovecot quota-status unreachable: {exc}") from exc
        try:
            writer.write(request.encode("utf-8"))
            await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(b"\n\n"), self._timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            raise MailStoreError(f"Dovecot quota-status failed: {exc}") from exc
        finally:
            writer.close()
        action = answer.decode("utf-8", "replace").strip()
        if not action.startswith("action="):
            raise MailStoreError(f"Dovecot quota-status: unexpected answer {action!r}")
        verdict = action[len("action="):]
        return not verdict[:1] in ("4", "5") and not verdict.upper().startswith(("REJECT", "DEFER"))
