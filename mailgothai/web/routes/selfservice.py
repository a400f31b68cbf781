"""A mail user's own page: quota and usage, and changing the password."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.errors import MailGoThaiError
from mailgothai.services.selfservice import SelfService
from mailgothai.web.context import NOTICES, Access, Ctx, must_change, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES["own-password"] = N_("Your password was changed. Use the new one in your mail programs too.")
NOTICES["must-change"] = N_("Your password must be changed before you can read or send mail. Choose a new one here.")


def _form() -> Form:
    return Form(N_("Change your password"), [
        Field("current_password", N_("Current password"), "password", autocomplete="current-password", required=True),
        Field("new_password", N_("New password"), "password", autocomplete="new-password", required=True,
              help=N_("It must meet your domain's password policy; if it does not, this page says why")),
        Field("new_password_repeat", N_("New password again"), "password", autocomplete="new-password", required=True),
    ], N_("Change password"), action="/me/password")


def me(ctx: Ctx) -> Response:
    if ctx.arg("notice") != "must-change" and must_change(ctx):  # issue 20: say why only this page opens
        return ctx.redirect("/me", "must-change")
    box = SelfService(ctx.state.backends, ctx.user_email, ctx.state.refresher).mailbox()
    return ctx.render("me.html", box=box, form=_form())


def change_password(ctx: Ctx) -> Response:
    service = SelfService(ctx.state.backends, ctx.user_email, ctx.state.refresher)
    try:
        assert ctx.session is not None
        service.change_password(ctx.field("current_password"), ctx.field("new_password"),
                                ctx.field("new_password_repeat"), keep_session=ctx.session.token)
    except MailGoThaiError as exc:
        return ctx.render("me.html", 400, box=service.mailbox(), form=_form().fail(exc, ctx.gettext))
    # The user's own change stamps the time and removes a "change at next login" mark (issue 20):
    # this node's relay reads the entry again, so SMTP AUTH takes the new password at once.
    ctx.state.backends.tell_relay()
    return ctx.redirect("/me", "own-password")


def routes() -> list[Route]:
    return [
        page("/me", me, Access.USER),
        page("/me/password", change_password, Access.USER, ("POST",)),
    ]
