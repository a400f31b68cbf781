"""The audit log, filtered by domain, actor, action and time; scoped to the actor."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.errors import InvalidInput
from mailgothai.services.audit import parse_filter
from mailgothai.store.audit import AuditEntry
from mailgothai.web.context import Access, Ctx, page
from mailgothai.web.messages import describe_error

FILTERS = ("domain", "actor", "action", "since", "until")


def audit_log(ctx: Ctx) -> Response:
    values = {name: ctx.arg(name) for name in FILTERS}
    error = ""
    entries: tuple[AuditEntry, ...] = ()
    next_before = None
    try:
        result = ctx.audit().page(parse_filter(**values), before_id=ctx.arg("before"), limit=50)
        entries, next_before = result.entries, result.next_before
    except InvalidInput as exc:
        error = describe_error(exc, ctx.gettext)
    query = urlencode({k: v for k, v in values.items() if v})
    return ctx.render("audit.html", status=400 if error else 200, entries=entries, values=values, error=error,
                      next_url=f"/audit?{query}&before={next_before}" if next_before else "")


def routes() -> list[Route]:
    return [page("/audit", audit_log, Access.ADMIN)]
