"""A domain's catch-all (its admins and operators) and its alias domains (operators add and
remove them; its admins see them on the domain's page): services/domain_routing.py."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.errors import MailGoThaiError
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "catch-all-on": N_("Mail to the domain's unknown addresses now goes to its catch-all address."),
    "catch-all-off": N_("The catch-all is off: mail to unknown addresses is refused."),
    "alias-domain-added": N_("The alias domain was added: every address of this domain is valid under it too."),
    "alias-domain-removed": N_("The alias domain was removed."),
})


def catch_all(ctx: Ctx) -> Response:
    svc = ctx.services()
    domain = svc.domains.get(ctx.request.path_params["domain"])  # first: 404 outside the admin's domains
    form = Form(N_("Catch-all address"), [
        Field("catch_all", N_("Catch-all address"), value=domain.catch_all, autocomplete="off",
              help=N_("An existing account or alias of this domain (or of another domain you administer) that "
                      "receives mail sent to addresses the domain does not have. Never an outside address. "
                      "Leave empty to turn the catch-all off: unknown addresses are then refused."))],
        N_("Save"), cancel=f"/domains/{domain.name}")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=domain.name)
    try:
        after = svc.domain_routing.set_catch_all(domain.name, ctx.field("catch_all") or None)
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=domain.name)
    return ctx.redirect(f"/domains/{domain.name}", "catch-all-on" if after.catch_all else "catch-all-off")


def alias_domain_new(ctx: Ctx) -> Response:
    svc = ctx.services()
    svc.actor.require_superadmin()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    form = Form(N_("New alias domain"), [
        Field("alias_domain", N_("Alias domain"), required=True,
              help=N_("Another name of this domain, e.g. the agency's new name: every address of the domain is "
                      "valid under it too, delivered to the same mailbox, and its users may log in and send "
                      "as either name. Not a name hosted here already."))],
        N_("Add alias domain"), cancel=f"/domains/{domain.name}")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=domain.name)
    try:
        svc.domain_routing.add_alias_domain(ctx.field("alias_domain"), domain.name)
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=domain.name)
    return ctx.redirect(f"/domains/{domain.name}", "alias-domain-added")


def alias_domain_remove(ctx: Ctx) -> Response:
    svc = ctx.services()
    svc.actor.require_superadmin()
    alias = svc.domain_routing.remove_alias_domain(ctx.request.path_params["alias"])
    return ctx.redirect(f"/domains/{alias.target}", "alias-domain-removed")


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/catch-all", catch_all, Access.ADMIN, ("GET", "POST")),
        page("/domains/{domain}/alias-domains/new", alias_domain_new, Access.OPERATOR, ("GET", "POST")),
        page("/alias-domains/{alias}/remove", alias_domain_remove, Access.OPERATOR, ("POST",)),
    ]
