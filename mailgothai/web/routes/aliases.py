"""Aliases of a domain: list, create, change members, suspend/activate, delete."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.addresses import address_in
from mailgothai.core.models import Status
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.listing import page_args
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "alias-saved": N_("The alias was saved."),
    "alias-suspended": N_("The alias is suspended."),
    "alias-activated": N_("The alias is active again."),
    "alias-deleted": N_("The alias was deleted."),
})


def alias_list(ctx: Ctx) -> Response:
    offset, size = page_args(ctx.arg("offset"), ctx.arg("limit"))
    q = ctx.arg("q")
    dom, listing = ctx.listing().aliases(ctx.request.path_params["domain"], search=q, offset=offset, size=size)
    return ctx.render("aliases.html", domain=dom, page=listing, q=q,
                      base=f"/domains/{dom.name}/aliases?q={quote(q)}")


def _members_field(value: str = "") -> Field:
    return Field("to", N_("Delivers to"), "textarea", value=value, required=True,
                 help=N_("One or more addresses, separated by ; or new lines"))


def alias_new(ctx: Ctx) -> Response:
    svc = ctx.services()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    form = Form(N_("New alias"), [Field("local_part", N_("Address (before the @)"), required=True), _members_field()],
                N_("Create alias"), cancel=f"/domains/{domain.name}/aliases")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject="@" + domain.name)
    try:
        alias = svc.aliases.add(address_in(ctx.field("local_part"), domain.name), ctx.field("to").replace("\n", ";"))
    except MailGoThaiError as exc:
        if isinstance(exc, InvalidInput) and exc.field == "address":
            exc = InvalidInput("local_part", exc.why)
        failed = form.filled(ctx.form).fail(exc, ctx.gettext)
        return ctx.render("form.html", 400, form=failed, subject="@" + domain.name)
    return ctx.redirect(f"/domains/{alias.domain}/aliases", "alias-saved")


def alias_edit(ctx: Ctx) -> Response:
    svc = ctx.services()
    alias = svc.aliases.get(ctx.request.path_params["address"])
    form = Form(N_("Edit alias"), [_members_field("; ".join(alias.members))], N_("Save"),
                cancel=f"/domains/{alias.domain}/aliases")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=alias.address)
    try:
        svc.aliases.set_members(alias.address, ctx.field("to").replace("\n", ";"))
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=alias.address)
    return ctx.redirect(f"/domains/{alias.domain}/aliases", "alias-saved")


def _set_status(status: Status) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        alias = ctx.services().aliases.set_status(ctx.request.path_params["address"], status)
        return ctx.redirect(f"/domains/{alias.domain}/aliases",
                            "alias-activated" if status is Status.ACTIVE else "alias-suspended")
    return handler


def alias_delete(ctx: Ctx) -> Response:
    svc = ctx.services()
    alias = svc.aliases.get(ctx.request.path_params["address"])
    form = Form(N_("Delete the alias"), [], N_("Delete for good"), cancel=f"/domains/{alias.domain}/aliases",
                danger=True, intro=N_("Mail to this address is refused from then on."))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=alias.address)
    svc.aliases.delete(alias.address)
    return ctx.redirect(f"/domains/{alias.domain}/aliases", "alias-deleted")


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/aliases", alias_list, Access.ADMIN),
        page("/domains/{domain}/aliases/new", alias_new, Access.ADMIN, ("GET", "POST")),
        page("/aliases/{address}/edit", alias_edit, Access.ADMIN, ("GET", "POST")),
        page("/aliases/{address}/suspend", _set_status(Status.DISABLED), Access.ADMIN, ("POST",)),
        page("/aliases/{address}/activate", _set_status(Status.ACTIVE), Access.ADMIN, ("POST",)),
        page("/aliases/{address}/delete", alias_delete, Access.ADMIN, ("GET", "POST")),
    ]
