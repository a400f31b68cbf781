"""A mail user's security page (issue 20): app passwords for mail clients (made, shown
once, listed with their last use, revoked) and the second factor for the web (TOTP, with
recovery codes); and an account's, for its admins (list and revoke its app passwords,
turn off its second factor: a lost phone). The rules are services/second_factor.py's."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.errors import MailGoThaiError
from mailgothai.services.second_factor import AppPasswordAdmin, UserSecurity, has_second_factor
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.i18n import N_
from mailgothai.web.messages import describe_error
from mailgothai.web.routes.auth import qr_svg

NOTICES["app-password-revoked"] = N_("The app password was revoked: mail programs using it can no longer log in.")
NOTICES["totp-off"] = N_("The second factor is off. Your password opens mail programs again.")
NOTICES["totp-reset"] = N_(
    "The second factor of this account is off: its password opens the web and mail programs again.")


def _security(ctx: Ctx, status: int = 200, **values: object) -> Response:
    service = UserSecurity(ctx.state.backends, ctx.user_email)
    on = service.totp_enabled()
    uri = "" if on else (service.totp.pending_uri(ctx.user_email) or "")
    return ctx.render("my_security.html", status, apps=service.app_passwords(), totp_on=on, pending=uri,
                      qr=qr_svg(uri) if uri else "", codes_left=service.recovery_codes_left() if on else 0,
                      **values)


def security(ctx: Ctx) -> Response:
    return _security(ctx)


def create_app_password(ctx: Ctx) -> Response:
    try:
        app, secret = UserSecurity(ctx.state.backends, ctx.user_email).create_app_password(
            ctx.field("name"), ctx.field("current_password"))
    except MailGoThaiError as exc:
        return _security(ctx, 400, error=describe_error(exc, ctx.gettext))
    return ctx.render("shown_once.html", title=ctx.gettext("App password for %(name)s") % {"name": app.name},
                      secret=secret, back="/me/security")


def revoke_app_password(ctx: Ctx) -> Response:
    try:
        UserSecurity(ctx.state.backends, ctx.user_email).revoke_app_password(ctx.request.path_params["app_id"])
    except MailGoThaiError as exc:
        return _security(ctx, 404, error=describe_error(exc, ctx.gettext))
    return ctx.redirect("/me/security", "app-password-revoked")


def start_totp(ctx: Ctx) -> Response:
    UserSecurity(ctx.state.backends, ctx.user_email).start_totp()
    return ctx.redirect("/me/security")


def enable_totp(ctx: Ctx) -> Response:
    try:
        codes = UserSecurity(ctx.state.backends, ctx.user_email).enable_totp(ctx.field("current_password"),
                                                                               ctx.field("code"))
    except MailGoThaiError as exc:
        return _security(ctx, 400, error=describe_error(exc, ctx.gettext))
    return ctx.render("recovery_codes.html", codes=codes, turned_on=True)


def disable_totp(ctx: Ctx) -> Response:
    try:
        UserSecurity(ctx.state.backends, ctx.user_email).disable_totp(ctx.field("current_password"))
    except MailGoThaiError as exc:
        return _security(ctx, 400, error=describe_error(exc, ctx.gettext))
    return ctx.redirect("/me/security", "totp-off")


def new_recovery_codes(ctx: Ctx) -> Response:
    service = UserSecurity(ctx.state.backends, ctx.user_email)
    if not service.totp_enabled():
        return ctx.redirect("/me/security")
    try:
        codes = service.new_recovery_codes(ctx.field("current_password"))
    except MailGoThaiError as exc:
        return _security(ctx, 400, error=describe_error(exc, ctx.gettext))
    return ctx.render("recovery_codes.html", codes=codes, turned_on=False)




def _admin(ctx: Ctx) -> AppPasswordAdmin:
    services = ctx.services()
    return AppPasswordAdmin(services.backends, services.actor)


def account_security(ctx: Ctx, status: int = 200, error: str = "") -> Response:
    email = ctx.request.path_params["email"]
    admin = _admin(ctx)
    apps = admin.list(email)  # NotFound, or PermissionDenied outside the admin's domains
    return ctx.render("account_security.html", status, email=email.lower(), apps=apps,
                      totp_on=has_second_factor(admin.b, email.lower()), error=error)


def account_revoke(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    try:
        _admin(ctx).revoke(email, ctx.request.path_params["app_id"])
    except MailGoThaiError as exc:
        return account_security(ctx, 404, describe_error(exc, ctx.gettext))
    return ctx.redirect(f"/accounts/{email}/security", "app-password-revoked")


def account_totp_reset(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    _admin(ctx).reset_second_factor(email)
    return ctx.redirect(f"/accounts/{email}/security", "totp-reset")


def routes() -> list[Route]:
    return [
        page("/accounts/{email}/security", account_security, Access.ADMIN),
        page("/accounts/{email}/app-passwords/{app_id}/revoke", account_revoke, Access.ADMIN, ("POST",)),
        page("/accounts/{email}/totp/reset", account_totp_reset, Access.ADMIN, ("POST",)),
        page("/me/security", security, Access.USER),
        page("/me/app-passwords", create_app_password, Access.USER, ("POST",)),
        page("/me/app-passwords/{app_id}/revoke", revoke_app_password, Access.USER, ("POST",)),
        page("/me/totp/begin", start_totp, Access.USER, ("POST",)),
        page("/me/totp/confirm", enable_totp, Access.USER, ("POST",)),
        page("/me/totp/disable", disable_totp, Access.USER, ("POST",)),
        page("/me/recovery-codes", new_recovery_codes, Access.USER, ("POST",)),
    ]
