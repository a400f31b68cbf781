"""`mailgothai relay`: builds the relay from the settings and runs its listeners and
delivery workers in one asyncio loop until SIGTERM/SIGINT. SIGUSR1 rescans the spool
(what `mailgothai queue retry|delete` changed)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import signal
import ssl
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP
from sqlalchemy import event

from mailgothai.core import policy as p
from mailgothai.core.addresses import normalize_address
from mailgothai.core.passwords import hash_password
from mailgothai.core.throttle import CommandBuckets, CommandRules, client_key
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.dkim.keys import KeyFiles
from mailgothai.dkim.table import KeyTable
from mailgothai.errors import InvalidInput, StackError
from mailgothai.mailstore.paths import paths_for as dovecot_paths
from mailgothai.relay.auth import Authenticator
from mailgothai.relay.context import RelayContext
from mailgothai.relay.delivery import DeliveryQueue, QueuePolicy
from mailgothai.relay.handler import RelayHandler
from mailgothai.relay.inbound import InboundChecker
from mailgothai.relay.lmtp import LmtpPool
from mailgothai.relay.lookup import RelayDirectory
from mailgothai.relay.quota import QuotaStatus
from mailgothai.relay.remote import RemoteSender, Resolver
from mailgothai.relay.routing import Router
from mailgothai.relay.spool import Spool, Target
from mailgothai.running_relay import RelayLock
from mailgothai.services.login_budget import LoginBudget, rules_from
from mailgothai.settings import Settings
from mailgothai.store import Store
from mailgothai.store.relay_state import DkimKeyRecords, SendCounters

log = logging.getLogger("mailgothai.relay")


def tls_context(settings: Settings) -> ssl.SSLContext:
    cert, key = settings.tls_cert_path, settings.tls_key_path
    if not cert.is_file() or not key.is_file():
        raise StackError(f"TLS certificate {cert} or key {key} missing (stack up makes a self-signed pair; "
                         "set tls_cert_file and tls_key_file in production)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


def postmaster_address(settings: Settings) -> str:
    """`relay_postmaster`, normalized; a bad one stops the relay with the field named."""
    if not settings.relay_postmaster.strip():
        return ""
    try:
        return normalize_address(settings.relay_postmaster, "relay_postmaster")
    except InvalidInput as exc:
        raise StackError(str(exc)) from exc


def build(settings: Settings) -> RelayContext:
    gateway = Gateway(settings.ldap_uri_list, settings.ldap_mail_dn, settings.ldap_mail_password,
                      timeout=settings.ldap_timeout, pool_size=16)
    directory = RelayDirectory(gateway, Layout(settings.ldap_base), settings.relay_lookup_cache_ttl)
    store = Store.open(settings.sql_url_effective)
    if store.engine.dialect.name == "sqlite":
        # The relay writes hourly counters per recipient: a commit need not wait for the
        # disk (WAL, synchronous=NORMAL). A power cut may forget the last increments —
        # harmless for a rate limit; messages themselves are fsynced in the spool.
        event.listen(store.engine, "connect", _counter_pragmas)
    keys = KeyTable(DkimKeyRecords(store), KeyFiles(settings.dkim_key_dir), settings.dkim_retire_delay)
    spool = Spool(settings.spool_dir.resolve())
    spool.prepare()
    lmtp = LmtpPool(settings.host, settings.lmtp_port, settings.relay_lmtp_connections, settings.relay_hostname)
    resolver = Resolver(settings.relay_dns, settings.relay_dns_timeout)
    remote = RemoteSender(settings.relay_smarthost, resolver, settings.relay_hostname)
    router = Router(directory, postmaster_address(settings))
    policy = QueuePolicy(settings.relay_retry_base, settings.relay_retry_max, settings.relay_queue_lifetime,
                         settings.relay_workers, settings.relay_hostname)
    ctx_holder: dict[str, RelayContext] = {}

    async def route_sender(sender: str) -> tuple[Target, ...]:
        return await ctx_holder["ctx"].route_sender(sender)

    quota = QuotaStatus(dovecot_paths(settings).base_dir / "quota-status",
                        grant_bytes=settings.relay_quota_grant_bytes, grant_seconds=settings.relay_quota_grant_seconds)
    queue = DeliveryQueue(spool, lmtp, remote, policy, route_sender, smarthost=bool(settings.relay_smarthost),
                          local_attempt_over=quota.settle)
    ctx = RelayContext(
        settings=settings, directory=directory, router=router, quota=quota,
        counters=SendCounters(store), keys=keys,
        inbound=InboundChecker(keys, settings.relay_dns, settings.relay_dns_timeout),
        auth=Authenticator(directory, gateway, settings.relay_auth_cache_ttl, LoginBudget(store, rules_from(settings)),
                           hasher=lambda plain: hash_password(plain, settings.argon2)),
        spool=spool, queue=queue, store=store, gateway=gateway,
    )
    ctx_holder["ctx"] = ctx
    return ctx


def _counter_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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

    connections: Counter[str] = Counter()

    def __init__(self, handler: RelayHandler, *, limits: ClientLimits, implicit_tls: bool,
                 **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limits = limits
        self._implicit_tls = implicit_tls
        self._counted_ip: str | None = None
        self._client = "?"
        self._refused = 0  # 4xx/5xx replies sent on this connection
        self._closing = False
        self._smtp_methods = {name: self._limited(method) for name, method in self._smtp_methods.items()}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self._original_transport is None and self._counted_ip is None
        super().connection_made(transport)
        if self._implicit_tls and self.session is not None and self.session.ssl is None:
            self.session.ssl = {"implicit_tls": True, "cipher": transport.get_extra_info("cipher")}
        if first and self.session is not None:
            ip = str((self.session.peer or ("?",))[0])
            self._counted_ip, self._client = ip, client_key(ip)
            RelaySMTP.connections[ip] += 1
            if RelaySMTP.connections[ip] > self._limits.max_connections:
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
            if refused is not None:
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
        log.info("closing the connection of %s: %s", self._counted_ip, refused)
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
        if self._counted_ip is not None:
            RelaySMTP.connections[self._counted_ip] -= 1
            if RelaySMTP.connections[self._counted_ip] <= 0:
                del RelaySMTP.connections[self._counted_ip]
            self._counted_ip = None
        super().connection_lost(error)


def _listeners(settings: Settings) -> list[tuple[str, int]]:
    out = [("mx", settings.smtp_port), ("submission", settings.submission_port)]
    if settings.smtps_port:
        out.append(("smtps", settings.smtps_port))
    return out


async def serve(settings: Settings, ready_file: str | None = None) -> None:
    ctx = build(settings)
    tls = tls_context(settings)
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(ctx.keys.reload)
    recovered = await ctx.queue.recover()
    limits = ClientLimits(settings.relay_max_connections_per_ip, settings.relay_max_errors_per_connection,
                          CommandBuckets(CommandRules(settings.relay_command_rate_per_ip,
                                                      settings.relay_command_burst_per_ip)))
    servers = []
    for kind, port in _listeners(settings):
        handler = RelayHandler(ctx, kind)
        implicit = kind == "smtps"

        def factory(handler: RelayHandler = handler, implicit: bool = implicit) -> RelaySMTP:
            return RelaySMTP(handler, limits=limits, implicit_tls=implicit,
                             hostname=settings.relay_hostname, ident="MailGoThai ESMTP",
                             data_size_limit=settings.relay_max_message_size, enable_SMTPUTF8=True,
                             tls_context=None if implicit else tls, auth_require_tls=False, timeout=300)

        servers.append(await loop.create_server(factory, settings.host, port, ssl=tls if implicit else None))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(_reload(ctx)))
    worker = asyncio.create_task(ctx.queue.run())
    maintenance = asyncio.create_task(_maintain(ctx))
    log.info("relay listening: %s; %d message(s) recovered from the spool",
             ", ".join(f"{k} {settings.host}:{port}" for k, port in _listeners(settings)), recovered)
    try:
        await stop.wait()
    finally:
        for server in servers:
            server.close()
        worker.cancel()
        maintenance.cancel()
        await ctx.queue.drain()
        ctx.close()
        log.info("relay stopped")


async def _reload(ctx: RelayContext) -> None:
    ctx.directory.clear()  # an account deleted or renamed: its address is refused at once
    await asyncio.to_thread(ctx.keys.reload)
    await ctx.queue.rescan()
    log.info("reloaded on request: directory answers, DKIM keys and spool")


async def _maintain(ctx: RelayContext) -> None:
    """Refresh the DKIM table (applying due switches) and prune old counters."""
    pruned_at = 0.0
    while True:
        await asyncio.sleep(5)
        if ctx.keys.stale():
            await asyncio.to_thread(ctx.keys.reload)
        if time.monotonic() - pruned_at > 600:
            pruned_at = time.monotonic()
            try:
                await asyncio.to_thread(ctx.counters.prune, int(time.time() // 3600) - 2)
            except Exception:  # noqa: BLE001 - pruning is housekeeping only
                log.warning("pruning send counters failed", exc_info=True)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.name == "mailgothai.relay.messages":
            return record.getMessage()
        data = {"at": round(record.created, 3), "level": record.levelname.lower(), "msg": record.getMessage()}
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("mailgothai")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    aiosmtpd_log = logging.getLogger("mail.log")
    aiosmtpd_log.setLevel(logging.WARNING)  # not its per-command chatter
    aiosmtpd_log.handlers[:] = [handler]
    aiosmtpd_log.propagate = False
    # ... nor the warning it logs on every AUTH about its own deprecated `login_data`
    aiosmtpd_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())


def run(settings: Settings) -> int:
    configure_logging()
    # A notification (SIGUSR1) before serve() handles it must not end the process: the
    # start reads everything afresh anyway.
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    held = RelayLock.acquire(settings)  # others find this relay by it (running_relay.py)
    try:
        asyncio.run(serve(settings))
    finally:
        held.release()
    return 0
