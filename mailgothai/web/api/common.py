"""The JSON API's plumbing: bearer-token authentication (the token acts as its admin,
with the admin's current rights), JSON bodies checked field by field, and errors as
RFC 9457 problem details naming the field and the reason."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgothai.core.models import Admin, Role
from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import BackendError, DirectoryError, InvalidInput, MailGoThaiError
from mailgothai.services.actor import Actor, admin_actor
from mailgothai.services.audit import AuditQueryService
from mailgothai.services.backends import Backends
from mailgothai.services.listing import ListingService
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService, authenticate, token_id
from mailgothai.services.usage import UsageService
from mailgothai.web.api.routing import check_path_names
from mailgothai.web.context import Access
from mailgothai.web.state import WebState
from mailgothai.web.statuses import status_of

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
MAX_BODY = 64 * 1024


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", errors: list[dict[str, str]] | None = None,
                 kind: str = "") -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or []
        self.kind = kind or title.lower().replace(" ", "-")

    def response(self) -> Response:
        body: dict[str, Any] = {"type": f"/api/v1/problems/{self.kind}", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = self.errors
        headers = {"WWW-Authenticate": 'Bearer realm="mailgothai"'} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM, headers=headers)


def invalid_input(errors: list[tuple[str, Reason]], detail: str = "") -> Problem:
    """A 400 naming each refused field, its reason in English and the reason's code."""
    field, why = errors[0]
    return Problem(400, "Invalid input", detail or f"{field}: {why}",
                   [{"field": name, "reason": str(reason), "code": reason.code} for name, reason in errors],
                   kind="invalid-input")


PROBLEM_TITLES = {404: ("Not found", "not-found"), 409: ("Conflict", "conflict"), 403: ("Forbidden", "forbidden")}


def problem_for(exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    status = status_of(exc) if isinstance(exc, MailGoThaiError) else None
    if status is None:
        raise exc
    if isinstance(exc, InvalidInput):
        return invalid_input([(exc.field, exc.why)])
    if isinstance(exc, DirectoryError):
        return Problem(status, "Service unavailable", "the directory (slapd) cannot be reached", kind="unavailable")
    if isinstance(exc, BackendError):
        return Problem(status, "Service unavailable", "a component of the service cannot be reached",
                       kind="unavailable")
    title, kind = PROBLEM_TITLES[status]
    return Problem(status, title, str(exc), kind=kind)


@dataclass
class ApiCtx:
    request: Request
    state: WebState
    admin: Admin
    body: Mapping[str, Any] = field(default_factory=dict)
    token_id: str = ""  # the id of the token the request came with

    @property
    def actor(self) -> Actor:
        return admin_actor(self.admin, origin="api")

    @property
    def is_operator(self) -> bool:
        return self.admin.role is Role.SUPERADMIN

    def _backends(self) -> Backends:
        b = self.state.backends
        return b if self.is_operator else b.acting_for(self.admin.login)

    def services(self) -> Services:
        return Services(self.state.backends, self.actor)

    def listing(self) -> ListingService:
        return ListingService(self._backends(), self.actor, self.state.lister)

    def usage(self) -> UsageService:
        return UsageService(self._backends(), self.actor, self.state.refresher)

    def audit(self) -> AuditQueryService:
        return AuditQueryService(self._backends(), self.actor)

    def tokens(self) -> TokenService:
        return TokenService(self.state.backends, self.actor)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    # ---- body fields ------------------------------------------------------------
    def text(self, name: str, required: bool = False, default: str | None = None) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise InvalidInput(name, Why.REQUIRED())
            return default
        if not isinstance(value, str):
            raise InvalidInput(name, Why.NOT_A_STRING())
        return value

    def size(self, name: str) -> str | int | None:
        value = _whole(self.body.get(name))
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InvalidInput(name, Why.NOT_A_SIZE_VALUE())
        return value

    def count(self, name: str) -> int | None:
        value = _whole(self.body.get(name))
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(name, Why.NOT_A_WHOLE_NUMBER())
        return value

    def flag(self, name: str) -> bool:
        value = self.body.get(name, False)
        if not isinstance(value, bool):
            raise InvalidInput(name, Why.NOT_A_BOOLEAN())
        return value

    def strings(self, name: str) -> tuple[str, ...] | None:
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(name, Why.NOT_A_STRING_LIST())
        return tuple(value)


def _whole(value: Any) -> Any:
    """JSON has numbers, not integers: 30.0 is the integer 30 (JSON Schema says so too)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Handler = Callable[[ApiCtx], Any]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _read_body(request: Request, fields: frozenset[str] | None,
                     required: bool = False) -> dict[str, Any]:
    if request.method in ("GET", "HEAD", "DELETE") or fields is None:
        return {}
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Problem(413, "Request body too large", f"at most {MAX_BODY} bytes", kind="too-large")
    if not raw.strip():
        if required:  # as the OpenAPI document says: an empty request is no request to change anything
            raise invalid_input([("body", Why.BODY_REQUIRED())])
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise Problem(415, "Unsupported media type", "send application/json", kind="unsupported-media-type")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_input([("body", Why.NOT_JSON())], detail=f"body: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise invalid_input([("body", Why.NOT_A_JSON_OBJECT())])
    unknown = sorted(set(body) - fields)
    if unknown:
        raise invalid_input([(name, Why.UNKNOWN_FIELD()) for name in unknown])
    return body


def endpoint(path: str, handler: Handler, method: str, *, body: frozenset[str] | None = None,
             status: int = 200, body_required: bool = False) -> Route:
    """An API route: token → admin → services; result → JSON (None → 204). The token is
    checked before a byte of the body is read (and the body is capped while it streams,
    `web/bodylimit.py`), so an anonymous client cannot make the process hold its body."""
    reads_body = method not in ("GET", "HEAD", "DELETE") and body is not None

    async def run(request: Request) -> Response:
        started = time.perf_counter()
        state: WebState = request.app.state.web
        admin: Admin | None = None
        try:
            if reads_body:
                admin = await run_in_threadpool(authenticated, request, state)
                data = await _read_body(request, body, body_required)
            else:
                data = {}
            response = await run_in_threadpool(_call, request, state, handler, data, status, admin)
        except Problem as exc:
            response = exc.response()
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    route = Route(path, run, methods=[method])
    route.access = Access.API  # type: ignore[attr-defined]
    return route


def authenticated(request: Request, state: WebState) -> Admin:
    """The admin of the request's token, or a 401 problem (503 if the store or the
    directory cannot say)."""
    token = _bearer(request)
    try:
        admin = authenticate(state.backends, token) if token else None
    except Exception as exc:  # noqa: BLE001 - mapped to a problem, or re-raised if not ours
        raise problem_for(exc) from None
    if admin is None:
        raise Problem(401, "Unauthorized", "send a valid API token: Authorization: Bearer mgt_…",
                      kind="unauthorized")
    return admin


def _call(request: Request, state: WebState, handler: Handler, data: dict[str, Any], status: int,
          admin: Admin | None) -> Response:
    try:
        if admin is None:
            admin = authenticated(request, state)
        check_path_names(request.path_params)
        result = handler(ApiCtx(request, state, admin, data, token_id(_bearer(request)) or ""))
    except Exception as exc:  # noqa: BLE001 - mapped to a problem, or re-raised if not ours
        return problem_for(exc).response()
    if result is None:
        return Response(status_code=204)
    if isinstance(result, Response):  # CSV files and streams
        return result
    return JSONResponse(result, status_code=status)
