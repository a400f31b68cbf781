"""GET /health: directory, Dovecot and SQL reachability (200 all up, 503 otherwise).

Anyone gets the status code and one word (`{"status": "ok"}` or `"degraded"`), enough
for a load balancer or a monitor. What was checked and where (the LDAP URI, the IMAP
address, the SQL dialect, timings) is shown only to an admin: a web session of an
admin, or an API token. While the directory is down an admin cannot be looked up, so
then a live session or token (both in SQL) is enough: that is when the details matter."""

from __future__ import annotations

from dataclasses import asdict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgothai.errors import BackendError
from mailgothai.services.health import check_all
from mailgothai.services.tokens import token_login
from mailgothai.web.api.common import _bearer
from mailgothai.web.context import SESSION_COOKIE, Access
from mailgothai.web.state import WebState


def _asking_admin(request: Request, state: WebState) -> str | None:
    """The login of the admin asking, by API token or web session; None for anyone else."""
    token = _bearer(request)
    if token:
        return token_login(state.backends, token)
    session = state.sessions.load(request.cookies.get(SESSION_COOKIE, ""))
    if session is None or session.kind != "admin" or session.stage != "ok":
        return None
    return session.login


def _shows_details(request: Request, state: WebState) -> bool:
    try:
        login = _asking_admin(request, state)
    except Exception:  # noqa: BLE001 - the SQL store down: nobody is known, the minimal view
        return False
    if login is None:
        return False
    try:
        return state.auth.current_admin(login) is not None
    except BackendError:
        return True  # the directory is down: the live session or token has to do


def _health(request: Request) -> Response:
    state: WebState = request.app.state.web
    checks = check_all(state.backends)
    ok = all(c.ok for c in checks)
    body: dict[str, object] = {"status": "ok" if ok else "degraded"}
    if _shows_details(request, state):
        body["checks"] = {c.name: asdict(c) for c in checks}
    return JSONResponse(body, status_code=200 if ok else 503)


async def health(request: Request) -> Response:
    return await run_in_threadpool(_health, request)


def routes() -> list[Route]:
    route = Route("/health", health, methods=["GET"])
    route.access = Access.PUBLIC  # type: ignore[attr-defined]
    return [route]
