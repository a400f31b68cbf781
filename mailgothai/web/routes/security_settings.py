"""An administrator's own security: its password, the TOTP second factor and API tokens."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.auth import utcnow
from mailgothai.services.second_factor import SELF_SERVICE_SOURCE
from mailgothai.services.tokens import DEFAULT_DAYS, MAX_DAYS
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.i18n import N_
from mailgothai.web.messages import describe_error
from mailgothai.web.routes.auth import locked_message, qr_svg

NOTICES.update({
    "totp-off": N_("The second factor is off."),
    "token-revoked": N_("The token was revoked: it no longer works."),
    "admin-own-password": N_("Your password was changed. Your other sessions and API tokens have ended; "
                             "this session stays."),
})


def overview(ctx: Ctx, status: int = 200, error: str = "", token_error: str = "",
             password_error: str = "") -> Response:
    login = ctx.actor.login
    pending = ctx.state.totp.pending_uri(login)
    return ctx.render("security.html", status=status, totp_on=ctx.state.totp.enabled(login), pending=pending,
                      qr=qr_svg(pending) if pending else "", tokens=ctx.tokens().list(), error=error,
                      token_error=token_error, password_error=password_error,
                      required=bool(ctx.state.settings.web_require_totp), now=utcnow(),
                      token_default_days=DEFAULT_DAYS, token_max_days=MAX_DAYS)


def show(ctx: Ctx) -> Response:
    return overview(ctx)


def totp_begin(ctx: Ctx) -> Response:
    try:
        ctx.state.totp.begin(ctx.actor.login)
    except InvalidInput as exc:
        return overview(ctx, 400, error=exc.why.render(ctx.gettext))
    return ctx.redirect("/security")


def totp_confirm(ctx: Ctx) -> Response:
    try:
        ctx.state.totp.confirm(ctx.actor.login, ctx.field("code"))
    except InvalidInput as exc:
        return overview(ctx, 400, error=exc.why.render(ctx.gettext))
    ctx.state.backends.audit.record(actor=ctx.actor.login, origin="web", action="admin.totp_enable",
                                    object_type="admin", object_id=ctx.actor.login)
    return ctx.redirect("/security", "totp-on")


def totp_disable(ctx: Ctx) -> Response:
    login = ctx.actor.login
    if ctx.state.settings.web_require_totp:
        return overview(ctx, 400, error=ctx.gettext("The operator requires a second factor; it cannot be turned off."))
    # counted as the login's code step is (under code:<login>), from the session's own source as
    # every check asked again of a logged-in user: a session cannot try codes faster than a login
    outcome = ctx.state.auth.admin_code(login, f"{SELF_SERVICE_SOURCE}:{login}",
                                        lambda: ctx.state.totp.verify(login, ctx.field("code")))
    if outcome.locked_for:
        return overview(ctx, 429, error=locked_message(ctx, outcome.locked_for))
    if not outcome.ok:
        return overview(ctx, 400, error=ctx.gettext("The code is not right (or was already used); try the next one."))
    ctx.state.totp.disable(login)
    ctx.state.backends.audit.record(actor=login, origin="web", action="admin.totp_disable", object_type="admin",
                                    object_id=login)
    return ctx.redirect("/security", "totp-off")


def password_change(ctx: Ctx) -> Response:
    """The admin's own new password, with its current one (and a code with the second factor
    on), counted in the login budget (services/admins.py change_own_password). This session
    stays; its other sessions and its API tokens end."""
    try:
        ctx.services().admins.change_own_password(
            ctx.field("current_password"), ctx.field("new_password"), ctx.field("new_password_repeat"),
            code=ctx.field("code"), keep_session=ctx.session.token if ctx.session else "")
    except MailGoThaiError as exc:
        return overview(ctx, 400, password_error=describe_error(exc, ctx.gettext))
    return ctx.redirect("/security", "admin-own-password")


def token_create(ctx: Ctx) -> Response:
    try:
        new = ctx.tokens().create(ctx.field("name"), ctx.field("days") or None, password=ctx.field("password"),
                                  code=ctx.field("code"))
    except MailGoThaiError as exc:
        return overview(ctx, 400, token_error=describe_error(exc, ctx.gettext))
    return ctx.render("shown_once.html", title=ctx.gettext("Your new API token"), secret=new.token, back="/security")


def token_revoke(ctx: Ctx) -> Response:
    ctx.tokens().revoke(ctx.request.path_params["token_id"])
    return ctx.redirect("/security", "token-revoked")


def routes() -> list[Route]:
    return [
        page("/security", show, Access.ADMIN),
        page("/security/password", password_change, Access.ADMIN, ("POST",)),
        page("/security/totp/begin", totp_begin, Access.ADMIN, ("POST",)),
        page("/security/totp/confirm", totp_confirm, Access.ADMIN, ("POST",)),
        page("/security/totp/disable", totp_disable, Access.ADMIN, ("POST",)),
        page("/security/tokens", token_create, Access.ADMIN, ("POST",)),
        page("/security/tokens/{token_id}/revoke", token_revoke, Access.ADMIN, ("POST",)),
    ]
