"""The relay's SMTP protocol class: aiosmtpd's SMTP with step 1 of the policy (limits
per client address) and implicit-TLS marking, one instance per connection."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP

from mailgothai.core import policy as p
from mailgothai.core.throttle import CommandBuckets, OpenConnections, client_key
from mailgothai.relay.handler import RelayHandler

log = logging.getLogger("mailgothai.relay")


@dataclass
class ClientLimits:
    """Step 1 of the policy, shared by every listener of the process."""

    max_connections: int  # open connections per client address
    max_errors: int  # refused commands in one connection
    commands: CommandBuckets  # commands and new connections per client address


SmtpCommand = Callable[[str | None], Awaitable[None]]


# "<local@domain>" with a dot-atom local part and a plain host name, nothing before it:
# nearly every MAIL FROM and RCPT TO. aiosmtpd's parser (the e-mail header tokenizer)
# costs ~10 % of the relay's CPU for these; anything else still goes through it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


class RelaySMTP(SMTP):
    """aiosmtpd's SMTP plus step 1 of the policy and implicit-TLS marking: a cap on
    connections per client address; every new connection and every command spends a
    token of the address's bucket; a connection is closed after too many refused
    commands. The decisions are `core/policy.check_command_rate|check_session_errors`."""

    connections = OpenConnections()  # every listener of the process

    def __init__(self, handler: RelayHandler, *, limits: ClientLimits, implicit_tls: bool,
                 **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limits = limits
        self._implicit_tls = implicit_tls
        self._counted_key: str | None = None
        self._client = "?"
        self._refused = 0  # 4xx/5xx replies sent on this connection
        self._closing = False
        self._smtp_methods = {name: self._limited(method) for name, method in self._smtp_methods.items()}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self._original_transport is None and self._counted_key is None
        super().connection_made(transport)
        if self._implicit_tls and self.session is not None and self.session.ssl is None:
            self.session.ssl = {"implicit_tls": True, "cipher": transport.get_extra_info("cipher")}
        if first and self.session is not None:
            ip = str((self.session.peer or ("?",))[0])
            self._counted_key, now_open = RelaySMTP.connections.opened(ip)
            self._client = client_key(ip)
            if now_open > self._limits.max_connections:
                refused: p.Reply | None = p.reply(p.R.TOO_MANY_CONNECTIONS)
            else:
                refused = p.check_command_rate(self._limits.commands.take(self._client, time.monotonic()))
            if refused is not None:
                self._closing = True
                transport.write(f"{refused}\r\n".encode())  # type: ignore[attr-defined]
                transport.close()

    def _limited(self, method: SmtpCommand) -> SmtpCommand:
        async def command(arg: str | None) -> None:
            if self._closing:
                return
            refused = p.check_command_rate(self._limits.commands.take(self._client, time.monotonic()))
            if refused is None:
                await method(arg)
                refused = p.check_session_errors(self._refused, self._limits.max_errors)
            if getattr(self.session, "mgt_ended", False):  # its login no longer holds: that reply was the last
                self._closing = True
                if self.transport is not None:
                    self.transport.close()
            elif refused is not None:
                await self._close_with(refused)
        return functools.update_wrapper(command, method)  # keeps HELP's syntax notes

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's result for a plain path, without its general parser."""
        plain = _PLAIN_PATH.match(arg or "")
        if plain is None:
            return super()._getaddr(arg)
        rest = arg[plain.end():].lstrip(" \t")  # the parser takes the blanks after ">" too
        if rest.startswith("("):
            return super()._getaddr(arg)  # and a comment
        address = plain.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    async def push(self, status: str | bytes) -> None:
        if (status[:1] if isinstance(status, str) else status[:1].decode("ascii", "replace")) in ("4", "5"):
            self._refused += 1
        if isinstance(status, str):
            await super().push(status)
        else:
            await super().push(status)

    async def _close_with(self, refused: p.Reply) -> None:
        self._closing = True
        log.info("closing the connection of %s: %s", self._client, refused)
        await super().push(str(refused))
        if self.transport is not None:
            self.transport.close()

    def _set_post_data_state(self) -> None:
        """Every end of a transaction in aiosmtpd (RSET, HELO/EHLO, after DATA) comes here."""
        if self.envelope is not None:
            self.event_handler.transaction_over(self.envelope)
        reset: Callable[[], None] = super()._set_post_data_state  # aiosmtpd leaves it unannotated
        reset()

    def connection_lost(self, error: Exception | None) -> None:
        if self.envelope is not None:
            self.event_handler.transaction_over(self.envelope)
        if self._counted_key is not None:
            RelaySMTP.connections.closed(self._counted_key)
            self._counted_key = None
        super().connection_lost(error)
