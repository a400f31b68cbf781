"""GET /metrics: the web's Prometheus text (requests by route template and status,
latency histograms, import jobs by state).

Answered to a client on loopback that came straight (no X-Forwarded-For or Forwarded
header: a proxy on this host passes on requests from anywhere), or to anyone sending
`Authorization: Bearer <metrics_token>` (made by `stack up`); everyone else gets 403.
Requests are counted by `RequestMetrics`, the outermost middleware, labelled with the
matched route's template (`/domains/{domain}`), never the path itself."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailgothai.store.jobs import JobState
from mailgothai.web.context import Access

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WebMetrics:
    def __init__(self, token: str, jobs_by_state: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self._token = token.encode()
        self._jobs_by_state = jobs_by_state
        self.requests = Counter("mailgothai_web_requests", "Requests answered, by route template, method and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("mailgothai_web_request_seconds", "Time to answer a request, by route template",
                                 ["route"], buckets=BUCKETS, registry=self.registry)
        self.import_jobs = Gauge("mailgothai_web_import_jobs", "Import jobs by state", ["state"],
                                 registry=self.registry)

    def allowed(self, request: Request) -> bool:
        host = request.client.host if request.client else ""
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        if local and "x-forwarded-for" not in request.headers and "forwarded" not in request.headers:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return bool(self._token) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                                        self._token)

    async def text(self) -> bytes:
        counts = await run_in_threadpool(self._jobs_by_state)
        for state in JobState:
            self.import_jobs.labels(state.value).set(counts.get(state.value, 0))
        return generate_latest(self.registry)


async def _metrics(request: Request) -> Response:
    metrics: WebMetrics = request.app.state.metrics
    if not metrics.allowed(request):
        return PlainTextResponse("metrics are served to this host, or with the metrics token\n", status_code=403)
    return Response(await metrics.text(), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[Route]:
    route = Route("/metrics", _metrics, methods=["GET"])
    route.access = Access.PUBLIC  # type: ignore[attr-defined]  # checked above: loopback or the token
    return [route]


class RequestMetrics:
    """Counts every HTTP request and its duration by the route that answered it."""

    def __init__(self, app: ASGIApp, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"  # a client's word: bounded
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
