"""Forgotten passwords (issue 20): the request form, the one "check your mail" page, the
reset form behind a link; and a mail user's recovery address (/me/recovery) with its
confirmation link. Rules in services/password_reset.py.

The request's answer is the same page and status for every address, known or not: the
account is looked up and the mail sent by a small pool of threads of its own, apart from
the request, so neither the answer's time nor when the connection takes its next request
(as a response's background task would make it wait) depends on it. A client that asked
too often gets 429, whatever the address.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core import password_reset as pr
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.relay_submission import RelaySubmission
from mailgothai.services.password_reset import (
    LinkRefused,
    PasswordResetService,
    RecoveryService,
    ResetConfig,
    confirm_recovery,
)
from mailgothai.web.context import NOTICES, Access, Ctx, client_ip, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

# the lookups and mails of reset requests, after their answers (two at a time; the SMTP
# client's timeout bounds each)
SENDERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-reset")

NOTICES.update({
    "password-reset": N_("Your new password is set. Log in with it, and use it in your mail programs too."),
    "recovery-sent": N_("We sent a confirmation link to the recovery address. It is used once you open the link."),
    "recovery-removed": N_("The recovery address is removed."),
    "recovery-confirmed": N_("The recovery address is confirmed: a reset link can be sent to it."),
})


def _config(ctx: Ctx) -> ResetConfig:
    s = ctx.state.settings
    return ResetConfig(s.web_public_url, s.password_reset_lifetime,
                       pr.ThrottleRules(s.password_reset_per_address, s.password_reset_per_ip))


def _reset_service(ctx: Ctx) -> PasswordResetService:
    return PasswordResetService(ctx.state.backends, _config(ctx), RelaySubmission(ctx.state.settings))


def _forgot_form() -> Form:
    return Form(N_("Forgot your password?"), [
        Field("email", N_("E-mail address"), autocomplete="username", required=True),
    ], N_("Send me a reset link"), action="/mail/forgot",
        intro=N_("We send a link to set a new password to the recovery address you set in your mailbox's "
                 "settings. Without one, ask your agency's mail administrator."))


def forgot(ctx: Ctx) -> Response:
    if not ctx.state.settings.web_public_url:  # no link could be sent: say so, for everyone alike
        return ctx.render("error.html", 503, title=ctx.gettext("Forgot your password?"),
                          message=ctx.gettext("Passwords cannot be reset here. Ask your agency's mail "
                                              "administrator to set a new one."))
    form = _forgot_form()
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    service = _reset_service(ctx)
    try:
        asked = service.request(ctx.field("email"), client_ip(ctx.request))
    except InvalidInput as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext))
    if asked.refused:
        form.general_error = ctx.gettext("Too many requests from your network. Try again in an hour.")
        return ctx.render("form.html", 429, form=form.filled(ctx.form))
    SENDERS.submit(service.send_reset, asked.address, asked.quiet)
    return ctx.render("reset_sent.html")


def _reset_form(token: str) -> Form:
    return Form(N_("Set a new password"), [
        Field("new_password", N_("New password"), "password", autocomplete="new-password", required=True),
        Field("new_password_repeat", N_("New password again"), "password", autocomplete="new-password",
              required=True),
    ], N_("Set the new password"), action=f"/mail/reset/{token}")


def _link_refused(ctx: Ctx) -> Response:
    return ctx.render("error.html", 410, title=ctx.gettext("This link does not work"),
                      message=ctx.gettext("The link was used already, or it has expired. Ask for a new one "
                                          "on the login page (Forgot your password?)."))


def reset(ctx: Ctx) -> Response:
    token = ctx.request.path_params["token"]
    service = _reset_service(ctx)
    try:
        account = service.check_link(token)
    except LinkRefused:
        return _link_refused(ctx)
    form = _reset_form(token)
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=account.email)
    try:
        account = service.reset(token, ctx.field("new_password"), ctx.field("new_password_repeat"))
    except LinkRefused:
        return _link_refused(ctx)
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.fail(exc, ctx.gettext), subject=account.email)
    return ctx.redirect("/mail/login", "password-reset")


def confirm(ctx: Ctx) -> Response:
    """GET shows a button, POST confirms: a mail scanner that opens links confirms nothing."""
    token = ctx.request.path_params["token"]
    form = Form(N_("Confirm your recovery address"), [], N_("Confirm"), action=f"/mail/recovery/confirm/{token}")
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    try:
        confirm_recovery(ctx.state.backends, token, RelaySubmission(ctx.state.settings))
    except LinkRefused:
        return _link_refused(ctx)
    return ctx.redirect("/mail/login", "recovery-confirmed")


# ---- a mail user's own recovery address --------------------------------------------------
def _recovery_service(ctx: Ctx) -> RecoveryService:
    return RecoveryService(ctx.state.backends, ctx.user_email, _config(ctx), RelaySubmission(ctx.state.settings))


def _recovery_form() -> Form:
    return Form(N_("Recovery address"), [
        Field("recovery_address", N_("Recovery address"), autocomplete="email", required=True,
              help=N_("An address outside this service (e.g. your personal mail)")),
        Field("current_password", N_("Current password"), "password", autocomplete="current-password",
              required=True),
    ], N_("Save and send a confirmation link"), action="/me/recovery")


def recovery(ctx: Ctx) -> Response:
    service = _recovery_service(ctx)
    form = _recovery_form()
    if ctx.request.method == "POST":
        try:
            service.set(ctx.field("recovery_address"), ctx.field("current_password"))
        except MailGoThaiError as exc:
            return ctx.render("recovery.html", 400, recovery=service.show(), form=form.filled(ctx.form).fail(
                exc, ctx.gettext))
        return ctx.redirect("/me/recovery", "recovery-sent")
    return ctx.render("recovery.html", recovery=service.show(), form=form)


def remove_recovery(ctx: Ctx) -> Response:
    _recovery_service(ctx).remove()
    return ctx.redirect("/me/recovery", "recovery-removed")


def routes() -> list[Route]:
    return [
        page("/mail/forgot", forgot, Access.PUBLIC, ("GET", "POST")),
        page("/mail/reset/{token}", reset, Access.PUBLIC, ("GET", "POST")),
        page("/mail/recovery/confirm/{token}", confirm, Access.PUBLIC, ("GET", "POST")),
        page("/me/recovery", recovery, Access.USER, ("GET", "POST")),
        page("/me/recovery/remove", remove_recovery, Access.USER, ("POST",)),
    ]
