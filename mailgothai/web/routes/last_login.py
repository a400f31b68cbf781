"""The inactive accounts report of a domain (issue 17): accounts with no login in N days,
never-logged-in first, then the oldest login first. The service checks the domain is the
actor's (a domain admin gets 404 for another's)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.services.listing import Page, page_args
from mailgothai.web.context import Access, Ctx, page

DEFAULT_DAYS = "90"


def inactive_report(ctx: Ctx) -> Response:
    name = ctx.request.path_params["domain"]
    days = ctx.arg("days", DEFAULT_DAYS).strip() or DEFAULT_DAYS
    offset, size = page_args(ctx.arg("offset"), ctx.arg("limit"), default_size=100)
    domain, found = ctx.services().last_login.inactive(name, days)
    window = Page(tuple(found[offset:offset + size]), offset, size, len(found))
    never = sum(1 for item in found if item.last is None)
    return ctx.render("inactive.html", domain=domain, page=window, days=days, never=never,
                      base=f"/domains/{domain.name}/inactive?days={quote(days)}")


def routes() -> list[Route]:
    return [page("/domains/{domain}/inactive", inactive_report, Access.ADMIN)]
