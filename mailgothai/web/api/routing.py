"""Routing of /api/v1 as its OpenAPI document describes it.

One route per path, answering each of the path's methods: a method the path does not
have is a 405 problem whose `Allow` header names all the methods it has (RFC 9110
§15.5.6), not only those of the first route that matched the path.

A path parameter that cannot name anything (an address without '@', a domain with one
label, a login with a space) names nothing: 404, as for a well-formed name nobody has.
The document types them as plain strings, so such a request is valid by it and is not
refused as bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mailgothai.core.addresses import normalize_address, normalize_domain
from mailgothai.core.retention import looks_like_mailbox_id
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.admins import normalize_login

METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class ApiRoute(Route):
    """A route of the API: a method the path lacks is a 405 problem with a full `Allow`."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            await method_not_allowed(self.methods)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def method_not_allowed(methods: Iterable[str]) -> Response:
    allow = ", ".join(sorted(methods, key=lambda m: (METHOD_ORDER + (m,)).index(m)))
    body = {"type": "/api/v1/problems/method-not-allowed", "title": "Method not allowed", "status": 405,
            "detail": f"this path takes {allow}"}
    return JSONResponse(body, status_code=405, media_type="application/problem+json", headers={"Allow": allow})


def by_path(routes: Iterable[Route]) -> list[Route]:
    """The routes of one module, merged into one ApiRoute per path (in the order the paths
    first appear); each keeps its endpoint and its `access`."""
    grouped: dict[str, list[Route]] = {}
    for route in routes:
        grouped.setdefault(route.path, []).append(route)
    return [_merged(path, group) for path, group in grouped.items()]


def _merged(path: str, group: list[Route]) -> Route:
    endpoints: dict[str, Callable[[Request], Awaitable[Response]]] = {}
    for route in group:
        for method in route.methods or ():
            endpoints[method] = route.endpoint
    accesses = {getattr(route, "access", None) for route in group}
    if len(accesses) != 1:
        raise ValueError(f"{path}: its methods declare different access")

    async def dispatch(request: Request) -> Response:
        return await endpoints[request.method](request)

    merged = ApiRoute(path, dispatch, methods=sorted(endpoints))
    merged.access = accesses.pop()  # type: ignore[attr-defined]
    return merged


def _mailbox_ref(value: str) -> None:
    if not looks_like_mailbox_id(value):
        normalize_address(value, "mailbox_id")


PATH_NAMES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "email": ("account", normalize_address),
    "address": ("alias", normalize_address),
    "domain": ("domain", normalize_domain),
    "login": ("administrator", normalize_login),
    "mailbox_id": ("deleted account", _mailbox_ref),
}


def check_path_names(params: Mapping[str, Any]) -> None:
    """NotFound for a path parameter that cannot be the name of what it names."""
    for name, value in params.items():
        if name in PATH_NAMES:
            kind, parse = PATH_NAMES[name]
            try:
                parse(str(value))
            except InvalidInput:
                raise NotFound(kind, str(value)) from None
