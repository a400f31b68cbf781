"""GET /health: directory, Dovecot and SQL reachability (200 all up, 503 otherwise)."""

from __future__ import annotations

from dataclasses import asdict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgothai.services.health import check_all
from mailgothai.web.context import Access


async def health(request: Request) -> Response:
    checks = await run_in_threadpool(check_all, request.app.state.web.backends)
    ok = all(c.ok for c in checks)
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": {c.name: asdict(c) for c in checks}},
                        status_code=200 if ok else 503)


def routes() -> list[Route]:
    route = Route("/health", health, methods=["GET"])
    route.access = Access.PUBLIC  # type: ignore[attr-defined]
    return [route]
