"""`mailgothai relay`: runs the relay's listeners and delivery workers in one asyncio loop
until SIGTERM/SIGINT. SIGUSR1 rescans the spool (what `mailgothai queue retry|delete`
changed). The relay is built by wiring.py, speaks SMTP through smtp.py, logs through
logs.py."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from mailgothai.core.throttle import CommandBuckets, CommandRules
from mailgothai.relay.context import RelayContext
from mailgothai.relay.handler import RelayHandler
from mailgothai.relay.logs import configure_logging
from mailgothai.relay.sieve_pickup import SievePickup
from mailgothai.relay.smtp import ClientLimits, RelaySMTP
from mailgothai.relay.wiring import build, tls_context
from mailgothai.running_relay import RelayLock
from mailgothai.settings import Settings

log = logging.getLogger("mailgothai.relay")


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
    pickup = SievePickup(ctx)  # Sieve mail of this node's Dovecot (relay/sieve_pickup.py)
    await asyncio.to_thread(pickup.settle)  # before the queue delivers anything
    await asyncio.to_thread(ctx.quarantine.settle, ctx.spool)  # releases spooled before a stop: marked only
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
    ctx.metrics.watch(ctx)  # relay/metrics.py: the endpoint on 127.0.0.1:relay_metrics_port
    if settings.relay_metrics_port:
        metrics = await ctx.metrics.serve(settings.relay_metrics_port)
        servers.extend([metrics] if metrics is not None else [])
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(_reload(ctx, pickup)))
    if ctx.auth.recorder is not None:
        ctx.auth.recorder.start()  # its own thread; ctx.close() writes what waits
    if ctx.auth.app_uses is not None:
        ctx.auth.app_uses.start()  # the same, for the app passwords' last uses (issue 20)
    worker = asyncio.create_task(ctx.queue.run())
    maintenance = asyncio.create_task(_maintain(ctx))
    picking = asyncio.create_task(pickup.run())
    releasing = asyncio.create_task(ctx.quarantine.run(ctx.spool, ctx.queue, ctx.quota))  # relay/quarantine.py
    log.info("relay listening: %s; %d message(s) recovered from the spool",
             ", ".join(f"{k} {settings.host}:{port}" for k, port in _listeners(settings)), recovered)
    try:
        await stop.wait()
    finally:
        for server in servers:
            server.close()
        worker.cancel()
        maintenance.cancel()
        picking.cancel()
        releasing.cancel()
        await ctx.queue.drain()
        if ctx.protection is not None:
            await ctx.protection.aclose()
        ctx.close()
        log.info("relay stopped")


async def _reload(ctx: RelayContext, pickup: SievePickup) -> None:
    ctx.directory.clear()  # an account deleted or renamed: its address is refused at once
    pickup.wake()  # a redirect waiting for the hourly limit: tried again (the limit may be raised)
    ctx.quarantine.wake()  # a release asked on this machine: spooled now
    if ctx.protection is not None:
        ctx.protection.clear()  # a domain's spam policy or lists changed: read afresh
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
