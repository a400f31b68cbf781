"""The API of the quarantine (issue 18): thin endpoints over the same service as the CLI
and the pages (services/quarantine.py); documented in openapi_quarantine.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.services.listing import page_args
from mailgothai.web.api.common import ApiCtx, Handler

P = "/api/v1"


def quarantine_list(c: ApiCtx) -> Any:
    offset, limit = page_args(c.query("offset"), c.query("limit"), 100)
    found = c.services().quarantine.listing(c.query("domain") or None, recipient=c.query("recipient") or None,
                                            limit=limit, offset=offset)
    return {"items": [held.as_dict() for held in found]}


def quarantine_get(c: ApiCtx) -> Any:
    shown = c.services().quarantine.show(c.path("id"))
    preview = None if shown.preview is None else {
        "headers": [{"name": n, "value": v} for n, v in shown.preview.headers], "text": shown.preview.text,
        "attachments": list(shown.preview.attachments)}
    return {**shown.held.as_dict(), "preview": preview}


def quarantine_release(c: ApiCtx) -> Any:
    return {"released": c.services().quarantine.release(c.path("id"), c.text("recipient"))}


def quarantine_delete(c: ApiCtx) -> Any:
    return {"deleted": c.services().quarantine.delete(c.path("id"), c.query("recipient") or None)}


def quarantine_learn(c: ApiCtx) -> Any:
    quarantine = c.services().quarantine
    held = quarantine.get(c.path("id"))  # another domain's: not found, whatever the body says
    kind = c.text("as", required=True)
    if kind not in ("spam", "ham"):
        raise InvalidInput("as", Why.NOT_A_CHOICE(choices="spam, ham", value=repr(kind)))
    quarantine.learn(held.id, spam=kind == "spam")


def routes(ep: Callable[..., Route]) -> list[Route]:
    f = frozenset
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (f"{P}/quarantine", quarantine_list, "GET", {}),
        (f"{P}/quarantine/{{id}}", quarantine_get, "GET", {}),
        (f"{P}/quarantine/{{id}}", quarantine_delete, "DELETE", {}),
        (f"{P}/quarantine/{{id}}/release", quarantine_release, "POST", {"body": f({"recipient"})}),
        (f"{P}/quarantine/{{id}}/learn", quarantine_learn, "POST", {"body": f({"as"})}),
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
