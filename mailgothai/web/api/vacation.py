"""The API of out-of-office replies (issue 17): thin endpoints over the same service as
the CLI and the pages (services/vacation.py); documented in openapi.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from mailgothai.web.api.common import ApiCtx, Handler

P = "/api/v1"


def vacation_get(c: ApiCtx) -> Any:
    return c.services().vacation.show(c.path("email")).as_data()


def vacation_put(c: ApiCtx) -> Any:
    body = c.body
    return c.services().vacation.set(c.path("email"), subject=body.get("subject"), message=body.get("message"),
                                     start=body.get("start"), end=body.get("end"),
                                     days=body.get("reply_days")).as_data()


def vacation_delete(c: ApiCtx) -> Any:
    c.services().vacation.off(c.path("email"))


def routes(ep: Callable[..., Route]) -> list[Route]:
    f = frozenset
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (f"{P}/accounts/{{email}}/vacation", vacation_get, "GET", {}),
        (f"{P}/accounts/{{email}}/vacation", vacation_put, "PUT",
         {"body": f({"subject", "message", "start", "end", "reply_days"})}),
        (f"{P}/accounts/{{email}}/vacation", vacation_delete, "DELETE", {}),
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
