"""Shared role mailboxes of a domain (issue 17, saraban@): list with their members, create,
add or change a member and its rights, remove a member. Rights stay in the service."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.addresses import address_in
from mailgothai.core.shared import Right
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "shared-saved": N_("The shared mailbox was created."),
    "shared-member-saved": N_("The member's rights were saved."),
    "shared-member-removed": N_("The member was removed."),
    "shared-removed": N_("The shared mailbox was removed."),
})
RIGHT_LABELS = {
    Right.READ: N_("Read (each member keeps its own read marks)"),
    Right.WRITE: N_("Write (add, flag, delete mail, make folders)"),
    Right.SEND_AS: N_("Send as the shared address"),
}


def shared_list(ctx: Ctx) -> Response:
    svc = ctx.services()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    return ctx.render("shared.html", domain=domain, listings=svc.shared.for_domain(domain.name),
                      right_labels={r.value: label for r, label in RIGHT_LABELS.items()})


def shared_new(ctx: Ctx) -> Response:
    svc = ctx.services()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    form = Form(N_("New shared mailbox"), [
        Field("local_part", N_("Address (before the @)"), value="saraban", required=True),
        Field("name", N_("Name"), help=N_("Shown to people; Thai is welcome")),
        Field("quota", N_("Quota"), help=N_("e.g. 5G; empty: the domain's default quota")),
    ], N_("Create shared mailbox"), cancel=f"/domains/{domain.name}/shared")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject="@" + domain.name)
    try:
        svc.shared.add(address_in(ctx.field("local_part"), domain.name), name=ctx.field("name"),
                       quota=ctx.field("quota") or None)
    except MailGoThaiError as exc:
        if isinstance(exc, InvalidInput) and exc.field == "address":
            exc = InvalidInput("local_part", exc.why)
        failed = form.filled(ctx.form).fail(exc, ctx.gettext)
        return ctx.render("form.html", 400, form=failed, subject="@" + domain.name)
    return ctx.redirect(f"/domains/{domain.name}/shared", "shared-saved")


def member_form(ctx: Ctx) -> Response:
    svc = ctx.services()
    shared = svc.shared.get(ctx.request.path_params["address"])
    form = Form(N_("Add a member or change its rights"), [
        Field("member", N_("Member (an account of this domain)"), value=ctx.arg("member"), required=True),
        Field("rights", N_("Rights"), "select", multiple=True, values=(Right.READ.value,),
              options=tuple((r.value, label) for r, label in RIGHT_LABELS.items())),
    ], N_("Save"), cancel=f"/domains/{shared.domain}/shared")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=shared.address)
    rights = ctx.form.getlist("rights") if hasattr(ctx.form, "getlist") else []
    try:
        svc.shared.add_member(shared.address, ctx.field("member"), [str(r) for r in rights])
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=shared.address)
    return ctx.redirect(f"/domains/{shared.domain}/shared", "shared-member-saved")


def member_remove(ctx: Ctx) -> Response:
    svc = ctx.services()
    shared = svc.shared.get(ctx.request.path_params["address"])
    svc.shared.remove_member(shared.address, ctx.field("member"))
    return ctx.redirect(f"/domains/{shared.domain}/shared", "shared-member-removed")


def shared_remove(ctx: Ctx) -> Response:
    svc = ctx.services()
    shared = svc.shared.get(ctx.request.path_params["address"])
    form = Form(N_("Remove the shared mailbox"), [], N_("Remove for good"), cancel=f"/domains/{shared.domain}/shared",
                danger=True, intro=N_("Only an empty shared mailbox can be removed. Its members lose it."))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=shared.address)
    try:
        svc.shared.remove(shared.address)
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.fail(exc, ctx.gettext), subject=shared.address)
    return ctx.redirect(f"/domains/{shared.domain}/shared", "shared-removed")


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/shared", shared_list, Access.ADMIN),
        page("/domains/{domain}/shared/new", shared_new, Access.ADMIN, ("GET", "POST")),
        page("/shared/{address}/members", member_form, Access.ADMIN, ("GET", "POST")),
        page("/shared/{address}/members/remove", member_remove, Access.ADMIN, ("POST",)),
        page("/shared/{address}/remove", shared_remove, Access.ADMIN, ("GET", "POST")),
    ]
