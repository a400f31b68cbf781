"""Administrators (operators only): list, create, change domains/name/status, reset
password, remove a lost second factor, delete."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.models import Role, Status
from mailgothai.errors import MailGoThaiError
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.totp import reset_second_factor
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "admin-saved": N_("The administrator was saved."),
    "admin-deleted": N_("The administrator was deleted."),
    "totp-reset": N_("The administrator's second factor was removed; they set up a new one."),
})
ROLES = (("domain_admin", N_("Domain administrator")), ("superadmin", N_("Operator (all domains)")))
STATUSES = (("active", N_("active")), ("disabled", N_("suspended")))


def _domains(ctx: Ctx) -> tuple[str, ...]:
    values = ctx.form.getlist("domains") if hasattr(ctx.form, "getlist") else []
    text = ";".join(v for v in values if isinstance(v, str))
    return tuple(d.strip() for d in text.replace(",", ";").split(";") if d.strip())


def admin_list(ctx: Ctx) -> Response:
    svc = ctx.services()
    admins = sorted(svc.admins.list(), key=lambda a: a.login)
    return ctx.render("admins.html", admins=admins, totp={a.login: ctx.state.totp.enabled(a.login) for a in admins},
                      me=ctx.actor.login)


def admin_new(ctx: Ctx) -> Response:
    svc = ctx.services()
    form = Form(N_("New administrator"), [
        Field("login", N_("Login"), required=True, help=N_("Letters, digits and . _ - @")),
        Field("display_name", N_("Name")),
        Field("role", N_("Role"), "select", value="domain_admin", options=ROLES),
        Field("domains", N_("Domains"), value=ctx.arg("domain"),
              help=N_("For a domain administrator: its domains, separated by ;")),
        Field("password_mode", N_("Password"), "select", value="generate",
              options=(("generate", N_("Generate a password (shown once)")), ("set", N_("Set this password")))),
        Field("password", N_("New password"), "password", autocomplete="new-password"),
    ], N_("Create administrator"), cancel="/admins")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    password = PasswordInput(plain=ctx.field("password")) if ctx.field("password_mode") == "set" \
        else PasswordInput(generate=True)
    role = ctx.field("role", "domain_admin")
    try:
        admin, generated = svc.admins.add(ctx.field("login"), role, password,
                                          domains=_domains(ctx) if role == "domain_admin" else (),
                                          display_name=ctx.field("display_name"))
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext))
    if generated:
        return ctx.render("shown_once.html", title=ctx.gettext("Administrator created: the password"),
                          secret=generated, back="/admins")
    return ctx.redirect("/admins", "admin-saved")


def admin_edit(ctx: Ctx) -> Response:
    svc = ctx.services()
    admin = svc.admins.get(ctx.request.path_params["login"])
    fields = [Field("display_name", N_("Name"), value=admin.display_name),
              Field("status", N_("Status"), "select", value=admin.status.value, options=STATUSES)]
    if admin.role is Role.DOMAIN_ADMIN:
        fields.insert(1, Field("domains", N_("Domains"), value="; ".join(admin.domains),
                               help=N_("Its domains, separated by ;")))
    form = Form(N_("Edit administrator"), fields, N_("Save"), cancel="/admins")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=admin.login)
    try:
        svc.admins.update(admin.login, display_name=ctx.field("display_name"),
                          domains=_domains(ctx) if admin.role is Role.DOMAIN_ADMIN else None,
                          status=Status.parse(ctx.field("status", "active")))
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=admin.login)
    return ctx.redirect("/admins", "admin-saved")


def admin_password(ctx: Ctx) -> Response:
    """An operator's reset of another admin's password. Its own is changed on My security,
    with the current one: the form leads there, and a POST is refused by the service."""
    svc = ctx.services()
    admin = svc.admins.get(ctx.request.path_params["login"])
    if ctx.request.method == "GET" and admin.login == ctx.actor.login:
        return ctx.redirect("/security#password")
    form = Form(N_("Reset the password"), [
        Field("password_mode", N_("Password"), "select", value="generate",
              options=(("generate", N_("Generate a password (shown once)")), ("set", N_("Set this password")))),
        Field("password", N_("New password"), "password", autocomplete="new-password"),
    ], N_("Reset password"), cancel="/admins")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=admin.login)
    password = PasswordInput(plain=ctx.field("password")) if ctx.field("password_mode") == "set" \
        else PasswordInput(generate=True)
    try:
        generated = svc.admins.set_password(admin.login, password,
                                            keep_session=ctx.session.token if ctx.session else "")
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=admin.login)
    if generated:
        return ctx.render("shown_once.html", title=ctx.gettext("The new password"), secret=generated, back="/admins")
    return ctx.redirect("/admins", "admin-saved")


def admin_totp_reset(ctx: Ctx) -> Response:
    svc = ctx.services()
    reset_second_factor(ctx.state.totp, svc.backends, svc.actor, ctx.request.path_params["login"])
    return ctx.redirect("/admins", "totp-reset")


def admin_delete(ctx: Ctx) -> Response:
    svc = ctx.services()
    admin = svc.admins.get(ctx.request.path_params["login"])
    form = Form(N_("Delete the administrator"), [], N_("Delete for good"), cancel="/admins", danger=True,
                intro=N_("The administrator can no longer log in; its API tokens stop working."))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=admin.login)
    svc.admins.delete(admin.login)  # its sessions, tokens and second factor end with it
    return ctx.redirect("/admins", "admin-deleted")


def routes() -> list[Route]:
    return [
        page("/admins", admin_list, Access.OPERATOR),
        page("/admins/new", admin_new, Access.OPERATOR, ("GET", "POST")),
        page("/admins/{login}/edit", admin_edit, Access.OPERATOR, ("GET", "POST")),
        page("/admins/{login}/password", admin_password, Access.OPERATOR, ("GET", "POST")),
        page("/admins/{login}/totp/reset", admin_totp_reset, Access.OPERATOR, ("POST",)),
        page("/admins/{login}/delete", admin_delete, Access.OPERATOR, ("GET", "POST")),
    ]
