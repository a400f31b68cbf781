"""The relay's Prometheus metrics, served as text at http://127.0.0.1:relay_metrics_port/metrics.

Two kinds: counters the relay's hooks increment as things happen (`RelayMetrics.answered`
for MAIL, RCPT and DATA answers, `auth_failures`, `dkim_signatures`), and values read
from the relay's parts when Prometheus scrapes (`_Readings`: the queue, the quota
questions, the directory's failovers, inbound protection's outcomes per domain). The
endpoint is served from the relay's own event loop (no thread reads the queue while
it changes), on loopback only. Labels are bounded: listener, stage, reply kind,
protection outcome, hosted domain; never an address.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mailgothai.core import policy as p
from mailgothai.relay.spool import received_at

if TYPE_CHECKING:
    from mailgothai.relay.context import RelayContext

log = logging.getLogger("mailgothai.relay")
Hook = TypeVar("Hook", bound=Callable[..., Awaitable[str]])


def _pattern(reply: p.Reply) -> re.Pattern[str]:
    parts = re.split(r"\{\w+\}", reply.text)
    return re.compile(rf"{reply.code} {re.escape(reply.status)} " + ".*".join(re.escape(x) for x in parts) + r"\Z",
                      re.DOTALL)


_KINDS = [(_pattern(reply), kind.value) for kind, reply in p.REPLIES.items()]


def kind_of(answer: str) -> str:
    """The kind (core/policy.py R) of an SMTP answer the relay gave; "other" for one not in the table."""
    return next((kind for pattern, kind in _KINDS if pattern.match(answer)), "other")


class RelayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.accepted = Counter("mailgothai_relay_accepted", "Messages accepted (250 at the end of DATA)",
                                ["listener"], registry=self.registry)
        self.refused = Counter("mailgothai_relay_refused", "MAIL, RCPT and DATA refused, by the reply's kind",
                               ["listener", "stage", "reason"], registry=self.registry)
        self.auth_failures = Counter("mailgothai_relay_auth_failures", "SMTP AUTH refused",
                                     ["reason"], registry=self.registry)
        self.dkim_signatures = Counter("mailgothai_relay_dkim_signatures", "Messages DKIM-signed by the relay",
                                       registry=self.registry)
        self._ctx: RelayContext | None = None

    def answered(self, listener: str, stage: str, answer: str) -> None:
        if answer[:1] in ("4", "5"):
            self.refused.labels(listener, stage, kind_of(answer)).inc()
        elif stage == "data" and answer[:1] == "2":
            self.accepted.labels(listener).inc()

    def auth_refused(self, kind: p.R) -> None:
        self.auth_failures.labels(kind.value).inc()

    def watch(self, ctx: RelayContext) -> None:
        """Read the relay's parts at each scrape."""
        self.registry.register(_Readings(ctx))
        self._ctx = ctx

    def text(self) -> bytes:
        protection = self._ctx.protection if self._ctx is not None else None
        return generate_latest(self.registry) + protection_text(protection.tally.totals() if protection else {})

    async def serve(self, port: int) -> asyncio.Server | None:
        """The endpoint on 127.0.0.1:`port`; None (and a warning) when the port is taken:
        mail goes on without metrics, and Prometheus reports the target down."""
        try:
            return await asyncio.start_server(self._answer, "127.0.0.1", port)
        except OSError as exc:
            log.warning("metrics endpoint 127.0.0.1:%d not served: %s", port, exc)
            return None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            words = head.split(b"\r\n", 1)[0].split()
            if len(words) >= 2 and words[0] in (b"GET", b"HEAD") and words[1].split(b"?")[0] == b"/metrics":
                status, body, ctype = b"200 OK", self.text(), CONTENT_TYPE_LATEST.encode()
            else:
                status, body, ctype = b"404 Not Found", b"not found\n", b"text/plain"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
                         + (b"" if words[:1] == [b"HEAD"] else body))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()


class _Readings(Collector):
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        queue, now = self.ctx.queue, time.time()
        yield CounterMetricFamily("mailgothai_relay_delivered", "Recipients delivered (LMTP or remote)",
                                  value=queue.delivered)
        yield CounterMetricFamily("mailgothai_relay_deferred", "Delivery attempts that failed for now, per recipient",
                                  value=queue.deferred)
        yield CounterMetricFamily("mailgothai_relay_bounced", "Recipients failed for good (bounced unless the "
                                  "message was itself a bounce)", value=queue.bounced)
        yield GaugeMetricFamily("mailgothai_relay_queue_messages", "Messages in the queue", value=queue.pending)
        oldest = queue.oldest_id()
        yield GaugeMetricFamily("mailgothai_relay_queue_oldest_seconds", "Age of the oldest message in the queue",
                                value=max(0.0, now - received_at(oldest)) if oldest else 0.0)
        yield CounterMetricFamily("mailgothai_relay_quota_questions", "Questions asked to Dovecot's quota-status",
                                  value=self.ctx.quota.asked)
        yield CounterMetricFamily("mailgothai_relay_ldap_failovers", "Moves to another directory provider",
                                  value=self.ctx.gateway.failovers)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def protection_text(totals: dict[tuple[str, str], int]) -> bytes:
    """Inbound protection's outcomes per domain in the text format, written here: up to
    434 domains x 7 outcomes, which prometheus-client's renderer takes ~4 us a series for
    (12 ms p50 at that size, on the relay's loop); this takes a tenth of that."""
    lines = ["# HELP mailgothai_relay_protection_total Inbound protection outcomes per domain",
             "# TYPE mailgothai_relay_protection_total counter"]
    lines.extend(f'mailgothai_relay_protection_total{{domain="{_label(domain)}",outcome="{_label(outcome)}"}} '
                 f"{float(count)}" for (domain, outcome), count in sorted(totals.items()))
    return ("\n".join(lines) + "\n").encode()


def answered(stage: str) -> Callable[[Hook], Hook]:
    """An SMTP hook of RelayHandler whose answer is counted (accepted, or refused by kind)."""
    def wrap(hook: Hook) -> Hook:
        @functools.wraps(hook)
        async def counted(handler: Any, *args: Any) -> str:
            answer = await hook(handler, *args)
            handler.ctx.metrics.answered(handler.listener, stage, answer)
            return answer
        return cast(Hook, counted)
    return wrap
