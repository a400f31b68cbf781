"""The start page: domains, accounts, quota allocated and used."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.web.context import Access, Ctx, page


def home(ctx: Ctx) -> Response:
    return ctx.render("dashboard.html", d=ctx.dashboard().figures(ctx.state.dashboard))


def routes() -> list[Route]:
    return [page("/", home, Access.ADMIN)]
