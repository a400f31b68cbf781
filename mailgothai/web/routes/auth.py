"""Logging in and out: administrators (password, then TOTP when they have it or the
operator requires it) and mail users (self-service); the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

import segno
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgothai.core.web_sessions import USER, USER_PENDING
from mailgothai.errors import InvalidInput
from mailgothai.services.second_factor import second_step
from mailgothai.web.context import (
    NOTICES,
    SESSION_COOKIE,
    Access,
    Ctx,
    client_ip,
    page,
)
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import LANG_COOKIE, LANGUAGES, N_

NOTICES.update({
    "logged-out": N_("You are logged out."),
    "totp-on": N_("The second factor is on. You will be asked for a code at every login."),
})




def safe_next(target: str, default: str = "/") -> str:
    """Only a local path: never an open redirect."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc or "\\" in target:
        return default
    return target


def _login_form(user: bool) -> Form:
    if user:
        fields = [Field("email", N_("E-mail address"), autocomplete="username", required=True),
                  Field("password", N_("Password"), "password", autocomplete="current-password", required=True)]
        return Form(N_("Log in to your mailbox"), fields, N_("Log in"),
                    intro=N_("Change your password and see how full your mailbox is."))
    fields = [Field("login", N_("Login"), autocomplete="username", required=True),
              Field("password", N_("Password"), "password", autocomplete="current-password", required=True)]
    return Form(N_("Administrator login"), fields, N_("Log in"))


def _start_session(ctx: Ctx, kind: str, login: str, stage: str, subject: str = "") -> None:
    old = ctx.request.cookies.get(SESSION_COOKIE)
    if old:
        ctx.state.sessions.end(old)
    session = ctx.state.sessions.create(kind, login, client_ip(ctx.request), stage, subject)
    ctx.session = session
    ctx.set_cookies.append((SESSION_COOKIE, session.token, None))


def locked_message(ctx: Ctx, seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return ctx.gettext("Too many failed logins. Try again in %(minutes)s minutes.") % {"minutes": minutes}


def admin_login(ctx: Ctx) -> Response:
    form = _login_form(user=False)
    if ctx.request.method == "GET":
        return ctx.render("login.html", form=form, user_login=False)
    outcome = ctx.state.auth.admin(ctx.field("login"), ctx.field("password"), client_ip(ctx.request))
    if outcome.locked_for:
        form.general_error = locked_message(ctx, outcome.locked_for)
        return ctx.render("login.html", 429, form=form.filled(ctx.form), user_login=False)
    if not outcome.ok:
        form.general_error = ctx.gettext("The login or the password is not right.")
        return ctx.render("login.html", 401, form=form.filled(ctx.form), user_login=False)
    if outcome.needs_code:
        _start_session(ctx, "admin", outcome.login, "totp")
        return ctx.redirect("/login/totp")
    if ctx.state.settings.web_require_totp:
        _start_session(ctx, "admin", outcome.login, "enrol")
        return ctx.redirect("/login/totp/enrol")
    _start_session(ctx, "admin", outcome.login, "ok")
    return ctx.redirect(safe_next(ctx.arg("next")))


def _finish_second_factor(ctx: Ctx) -> Response:
    assert ctx.session is not None
    moved = ctx.state.sessions.set_stage(ctx.session.token, "ok")
    if moved is None:
        return ctx.redirect("/login")
    ctx.set_cookies.append((SESSION_COOKIE, moved.token, None))
    return ctx.redirect("/")


def totp_login(ctx: Ctx) -> Response:
    assert ctx.session is not None
    if ctx.session.stage == "enrol":
        return ctx.redirect("/login/totp/enrol")
    form = Form(N_("Second factor"), [Field("code", N_("Code from your authenticator app"),
                                             autocomplete="one-time-code", required=True)], N_("Continue"))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    login = ctx.session.login
    outcome = ctx.state.auth.admin_code(login, client_ip(ctx.request),
                                        lambda: ctx.state.totp.verify(login, ctx.field("code")))
    if outcome.locked_for:
        form.general_error = locked_message(ctx, outcome.locked_for)
        return ctx.render("form.html", 429, form=form)
    if not outcome.ok:
        form.errors["code"] = ctx.gettext("The code is not right (or was already used); try the next one.")
        return ctx.render("form.html", 401, form=form)
    return _finish_second_factor(ctx)


def qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2))


def totp_enrol(ctx: Ctx) -> Response:
    """An admin that must have a second factor (operator's setting) sets one up."""
    assert ctx.session is not None
    if ctx.session.stage != "enrol":
        return ctx.redirect("/login/totp")
    login = ctx.session.login
    uri = ctx.state.totp.pending_uri(login) or ctx.state.totp.begin(login)
    error = ""
    if ctx.request.method == "POST":
        try:
            ctx.state.totp.confirm(login, ctx.field("code"))
        except InvalidInput as exc:
            error = exc.why.render(ctx.gettext)
        else:
            return _finish_second_factor(ctx)
    return ctx.render("totp_enrol.html", status=400 if error else 200, uri=uri, qr=qr_svg(uri), error=error,
                      action="/login/totp/enrol", required=True)


def user_login(ctx: Ctx) -> Response:
    form = _login_form(user=True)
    if ctx.request.method == "GET":
        return ctx.render("login.html", form=form, user_login=True)
    outcome = ctx.state.auth.user(ctx.field("email"), ctx.field("password"), client_ip(ctx.request))
    if outcome.locked_for:
        form.general_error = locked_message(ctx, outcome.locked_for)
        return ctx.render("login.html", 429, form=form.filled(ctx.form), user_login=True)
    if not outcome.ok:
        form.general_error = ctx.gettext("The address or the password is not right.")
        return ctx.render("login.html", 401, form=form.filled(ctx.form), user_login=True)
    # the session is the account's (its mailbox id), never the address's (AuthService.session_account)
    if outcome.needs_code:  # issue 20: the code before any page
        _start_session(ctx, USER_PENDING, outcome.login, "totp", outcome.mailbox_id)
        return ctx.redirect("/mail/login/totp")
    _start_session(ctx, USER, outcome.login, "ok", outcome.mailbox_id)
    return ctx.redirect("/me")


def user_totp_login(ctx: Ctx) -> Response:
    """A mail user with a second factor, after the password: a code from the app or one of
    the recovery codes (each once). Only then a user session; the login budget counts
    wrong codes as it counts wrong passwords."""
    session = ctx.session
    if session is None or session.kind != USER_PENDING:
        return ctx.redirect("/mail/login")
    form = Form(N_("Second factor"), [Field("code", N_("Code from your authenticator app"),
                                             autocomplete="one-time-code", required=True,
                                             help=N_("Or one of your recovery codes"))], N_("Continue"))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    login = session.login
    outcome = ctx.state.auth.user_code(login, client_ip(ctx.request),
                                       lambda: second_step(ctx.state.backends, login, ctx.field("code")))
    if outcome.locked_for:
        form.general_error = locked_message(ctx, outcome.locked_for)
        return ctx.render("form.html", 429, form=form)
    if not outcome.ok:
        form.errors["code"] = ctx.gettext("The code is not right (or was already used); try the next one.")
        return ctx.render("form.html", 401, form=form)
    _start_session(ctx, USER, login, "ok", session.subject)
    return ctx.redirect("/me")


def logout(ctx: Ctx) -> Response:
    token = ctx.request.cookies.get(SESSION_COOKIE)
    if token:
        ctx.state.sessions.end(token)
    ctx.set_cookies.append((SESSION_COOKIE, "", 0))
    user = ctx.session is not None and ctx.session.kind == USER
    return ctx.redirect("/mail/login" if user else "/login", "logged-out")


def switch_language(ctx: Ctx) -> Response:
    lang = ctx.request.path_params["lang"]
    target = safe_next(ctx.arg("next"))
    response = RedirectResponse(target, status_code=303)
    if lang in LANGUAGES:
        ctx.set_cookies.append((LANG_COOKIE, lang, 365 * 86400))
    return response


def routes() -> list[Route]:
    return [
        page("/login", admin_login, Access.PUBLIC, ("GET", "POST")),
        page("/login/totp", totp_login, Access.PENDING, ("GET", "POST")),
        page("/login/totp/enrol", totp_enrol, Access.PENDING, ("GET", "POST")),
        page("/mail/login", user_login, Access.PUBLIC, ("GET", "POST")),
        page("/mail/login/totp", user_totp_login, Access.PUBLIC, ("GET", "POST")),
        page("/logout", logout, Access.PUBLIC, ("POST",)),
        page("/lang/{lang}", switch_language, Access.PUBLIC),
    ]
