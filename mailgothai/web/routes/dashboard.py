"""The start page: domains, accounts, quota allocated and used; inbound protection's counts
of the last 24 hours for the domains the admin reaches (issue 18)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.web.context import Access, Ctx, page

PROTECTION_ROWS = 20  # domains shown, most counted first (the totals count them all)


def home(ctx: Ctx) -> Response:
    return ctx.render("dashboard.html", d=ctx.dashboard().figures(ctx.state.dashboard),
                      protection=ctx.services().spam.counts(), protection_shown=PROTECTION_ROWS)


def routes() -> list[Route]:
    return [page("/", home, Access.ADMIN)]
