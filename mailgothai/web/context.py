"""One request of an HTML page: who is asking (from the session), in which language,
with which form; and `page()`, which turns a small handler into a Starlette route
that checks access and CSRF first, and maps the project's errors to error pages.

Every route declares its `access` (see `Access`); the authorisation matrix test reads
it from the app's route table, so a new route cannot be added without one.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mailgothai.core.models import Account, Admin, Role
from mailgothai.core.web_sessions import USER as USER_SESSION
from mailgothai.core.web_sessions import USER_KINDS
from mailgothai.errors import (
    AlreadyExists,
    BackendError,
    DirectoryError,
    MailGoThaiError,
    NotFound,
    PermissionDenied,
)
from mailgothai.services.actor import Actor, admin_actor
from mailgothai.services.audit import AuditQueryService
from mailgothai.services.backends import Backends
from mailgothai.services.dashboard import DashboardService
from mailgothai.services.listing import ListingService
from mailgothai.services.password_lifecycle import must_change_now
from mailgothai.services.registry import Services
from mailgothai.services.sessions import SessionInfo
from mailgothai.services.tokens import TokenService
from mailgothai.services.usage import UsageService
from mailgothai.web import formatting
from mailgothai.web.bodylimit import BodyTooLarge
from mailgothai.web.i18n import LANG_COOKIE, negotiate
from mailgothai.web.state import WebState
from mailgothai.web.statuses import status_of

log = logging.getLogger(__name__)
SESSION_COOKIE = "mgt_session"
PRELOGIN_COOKIE = "mgt_pre"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 256 * 1024


class Access(enum.Enum):
    PUBLIC = "public"  # anyone (login pages, health, autoconfig, static)
    PENDING = "pending"  # an admin between password and second factor
    USER = "user"  # a logged-in mail user (self-service)
    ADMIN = "admin"  # any logged-in admin; domain routes: the services answer 404 outside its domains
    OPERATOR = "operator"  # superadmin only; others get 404
    API = "api"  # a bearer token (the API checks it itself)


class Denied(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class Ctx:
    request: Request
    state: WebState
    lang: str
    session: SessionInfo | None = None
    admin: Admin | None = None
    user_account: Account | None = None  # a mail user's, read once per request (load_session)
    form: Mapping[str, Any] = field(default_factory=dict)
    set_cookies: list[tuple[str, str, int | None]] = field(default_factory=list)
    prelogin: str = ""
    started: float = field(default_factory=time.perf_counter)

    # ---- who ------------------------------------------------------------------
    @property
    def actor(self) -> Actor:
        assert self.admin is not None, "an admin route without an admin"
        return admin_actor(self.admin, origin="web")

    @property
    def is_operator(self) -> bool:
        return self.admin is not None and self.admin.role is Role.SUPERADMIN

    @property
    def user_email(self) -> str:
        assert self.session is not None and self.session.kind == USER_SESSION
        return self.session.login

    def services(self) -> Services:
        return Services(self.state.backends, self.actor)

    def listing(self) -> ListingService:
        return ListingService(self._backends(), self.actor, self.state.lister)

    def usage(self) -> UsageService:
        return UsageService(self._backends(), self.actor, self.state.refresher)

    def audit(self) -> AuditQueryService:
        return AuditQueryService(self._backends(), self.actor)

    def dashboard(self) -> DashboardService:
        return DashboardService(self._backends(), self.actor)

    def tokens(self) -> TokenService:
        return TokenService(self.state.backends, self.actor)

    def _backends(self) -> Backends:
        """Backends acting as the admin (slapd's rules apply to a domain admin too)."""
        b = self.state.backends
        return b if self.is_operator else b.acting_for(self.actor.login)

    # ---- language and rendering ---------------------------------------------
    def gettext(self, message: str) -> str:
        return self.state.translations[self.lang].gettext(message)

    def csrf_token(self) -> str:
        if self.session is not None:
            return self.session.csrf_token
        return prelogin_csrf(self.state, self.prelogin)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        env = self.state.templates
        translations = self.state.translations[self.lang]
        tmpl = env.get_template(template)
        html = tmpl.render(
            _=translations.gettext, gettext=translations.gettext, ngettext=translations.ngettext,
            ctx=self, lang=self.lang, csrf_token=self.csrf_token(), admin=self.admin, session=self.session,
            is_operator=self.is_operator, path=self.request.url.path,
            size=formatting.size, size_exact=formatting.size_exact, percent=formatting.percent,
            number=lambda v: formatting.number(v, self.lang), when=lambda v: formatting.when(v, self.lang),
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, url: str, notice: str = "") -> RedirectResponse:
        if notice:
            url += ("&" if "?" in url else "?") + "notice=" + quote(notice)
        return RedirectResponse(url, status_code=303)

    def notice(self) -> str:
        """A message key passed in the query string after a change (translated, never echoed raw)."""
        return NOTICES.get(self.request.query_params.get("notice", ""), "")

    def arg(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value if isinstance(value, str) else default


NOTICES: dict[str, str] = {}  # filled by the routes: key -> msgid


def prelogin_csrf(state: WebState, prelogin: str) -> str:
    """CSRF token for forms shown before login: bound to the pre-login cookie by HMAC."""
    key = hashlib.sha256(b"mailgothai-csrf\0" + str(state.settings.web_secret_key).encode()).digest()
    return hmac.new(key, prelogin.encode(), hashlib.sha256).hexdigest()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def wants_secure_cookies(request: Request, state: WebState) -> bool:
    return bool(state.settings.web_https) or request.url.scheme == "https"


def apply_cookies(ctx: Ctx, response: Response) -> Response:
    secure = wants_secure_cookies(ctx.request, ctx.state)
    for name, value, max_age in ctx.set_cookies:
        if max_age == 0:
            response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")
        else:
            response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True,
                                samesite="lax")
    return response


def _login_redirect(request: Request, user: bool = False) -> RedirectResponse:
    target = "/mail/login" if user else "/login"
    nxt = request.url.path
    if request.method == "GET" and nxt not in ("/", target):
        target += "?next=" + quote(nxt)
    return RedirectResponse(target, status_code=303)


def load_session(ctx: Ctx) -> None:
    token = ctx.request.cookies.get(SESSION_COOKIE, "")
    ctx.session = ctx.state.sessions.load(token) if token else None
    if ctx.session is not None and ctx.session.kind == "admin" and ctx.session.stage == "ok":
        ctx.admin = ctx.state.auth.current_admin(ctx.session.login)
        if ctx.admin is None:  # suspended or deleted since login
            ctx.state.sessions.end(token)
            ctx.session = None
    elif ctx.session is not None and ctx.session.kind in USER_KINDS:
        ctx.user_account = ctx.state.auth.session_account(ctx.session.login, ctx.session.subject)
        if ctx.user_account is None:  # deleted, renamed or suspended since login
            ctx.state.sessions.end(token)
            ctx.session = None


MUST_CHANGE_PAGES = ("/me", "/me/password")  # all a user who must change the password reaches (issue 20)


def must_change(ctx: Ctx) -> bool:
    """The logged-in mail user must change the password first (marked, or expired)."""
    account = ctx.user_account
    return account is not None and must_change_now(ctx.state.backends, account, datetime.now(UTC))


def check_access(ctx: Ctx, access: Access) -> None:
    request = ctx.request
    if access is Access.PUBLIC:
        return
    session = ctx.session
    if access is Access.PENDING:
        if session is None or session.kind != "admin" or session.stage == "ok":
            raise Denied(_login_redirect(request))
        return
    if access is Access.USER:
        if session is None or session.kind != USER_SESSION:
            raise Denied(_login_redirect(request, user=True))
        if request.url.path not in MUST_CHANGE_PAGES and must_change(ctx):
            raise Denied(ctx.redirect("/me", "must-change"))
        return
    if session is None or session.kind != "admin" or ctx.admin is None:
        if session is not None and session.kind == USER_SESSION:
            raise Denied(ctx.render("error.html", 404, title=ctx.gettext("Not found"),
                                    message=ctx.gettext("There is no such page.")))
        if session is not None and session.kind == "admin" and session.stage != "ok":
            raise Denied(RedirectResponse("/login/totp", status_code=303))
        raise Denied(_login_redirect(request))
    if access is Access.OPERATOR and not ctx.is_operator:
        raise Denied(ctx.render("error.html", 404, title=ctx.gettext("Not found"),
                                message=ctx.gettext("There is no such page.")))


async def read_form(request: Request) -> FormData | None:
    if request.method in ("GET", "HEAD"):
        return None
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_FORM_BYTES:
        return FormData()
    try:
        return await request.form(max_files=0, max_fields=200)
    except BodyTooLarge:
        raise  # answered 413 by web/bodylimit.py
    except Exception:  # noqa: BLE001 - a malformed body is an empty form (CSRF then refuses it)
        return FormData()


def check_csrf(ctx: Ctx) -> None:
    if ctx.request.method in ("GET", "HEAD"):
        return
    sent = ctx.form.get(CSRF_FIELD) if ctx.form else None
    if not isinstance(sent, str):
        sent = ctx.request.headers.get("x-csrf-token", "")
    expected = ctx.csrf_token()
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Denied(ctx.render("error.html", 403, title=ctx.gettext("The form has expired"),
                                message=ctx.gettext("Nothing was changed. Go back, reload the page and try again.")))


Handler = Callable[[Ctx], Response]


def page(path: str, handler: Handler, access: Access, methods: tuple[str, ...] = ("GET",),
         csrf: bool = True, name: str | None = None) -> Route:
    """A route for an HTML page: session, access and CSRF checks, errors to pages. The
    session and access are checked before the body is read: a form of someone who may not
    send it is never parsed."""

    async def endpoint(request: Request) -> Response:
        state: WebState = request.app.state.web
        ctx = Ctx(request, state, negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")))
        ctx.prelogin = request.cookies.get(PRELOGIN_COOKIE, "")
        if not ctx.prelogin or len(ctx.prelogin) > 64:
            ctx.prelogin = secrets.token_urlsafe(24)
            ctx.set_cookies.append((PRELOGIN_COOKIE, ctx.prelogin, None))
        if request.method in ("GET", "HEAD"):
            response = await run_in_threadpool(_run, ctx, handler, access, csrf)
        else:
            refused = await run_in_threadpool(_admit, ctx, access)
            response = refused or await _with_form(ctx, handler, csrf)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - ctx.started) * 1000:.1f}"
        return apply_cookies(ctx, response)

    route = Route(path, endpoint, methods=list(methods), name=name)
    route.access = access  # type: ignore[attr-defined]
    return route


async def _with_form(ctx: Ctx, handler: Handler, csrf: bool) -> Response:
    """The rest of a request `_admit` let in: its form read, then CSRF and the handler."""
    form = await read_form(ctx.request)
    ctx.form = form if form is not None else {}
    try:
        return await run_in_threadpool(_run, ctx, handler, None, csrf)
    finally:
        if form is not None:
            await form.close()


def _admit(ctx: Ctx, access: Access) -> Response | None:
    """Session and access, before any body is read: None if the request may go on, else
    the answer (a redirect to the login, a 404 page, ...)."""
    def admit() -> Response | None:
        load_session(ctx)
        check_access(ctx, access)
        return None

    return _mapped(ctx, admit)


def _run(ctx: Ctx, handler: Handler, access: Access | None, csrf: bool) -> Response:
    """Session and access (unless `_admit` checked them: access None), CSRF, the handler."""
    def run() -> Response:
        if access is not None:
            load_session(ctx)
            check_access(ctx, access)
        if csrf:
            check_csrf(ctx)
        return handler(ctx)

    response = _mapped(ctx, run)
    assert response is not None
    return response


def _mapped(ctx: Ctx, step: Callable[[], Response | None]) -> Response | None:
    """A step of a page with the project's errors mapped to error pages."""
    try:
        return step()
    except Denied as denied:
        return denied.response
    except MailGoThaiError as exc:
        return _error_page(ctx, exc)


def _error_page(ctx: Ctx, exc: MailGoThaiError) -> Response:
    """The page for an error a handler let through; its status from web/statuses.py."""
    status = status_of(exc)
    if status is None:
        raise exc
    if isinstance(exc, BackendError):
        log.warning("backend unavailable: %s", exc)
        component = (ctx.gettext("the directory (slapd)") if isinstance(exc, DirectoryError)
                     else ctx.gettext("a component of the service"))
        return ctx.render("unavailable.html", status, component=component)
    if isinstance(exc, NotFound):
        return ctx.render("error.html", status, title=ctx.gettext("Not found"),
                          message=ctx.gettext("There is no such page, or it is not yours to see."))
    if isinstance(exc, PermissionDenied):
        return ctx.render("error.html", status, title=ctx.gettext("Not allowed"),
                          message=ctx.gettext("Only an operator may do this."))
    title = ctx.gettext("Already exists") if isinstance(exc, AlreadyExists) else ctx.gettext("Not accepted")
    return ctx.render("error.html", status, title=title, message=describe(ctx, exc))


def describe(ctx: Ctx, exc: MailGoThaiError) -> str:
    """An error for a person, in the page's language: the field's label and the reason."""
    from mailgothai.web.messages import describe_error

    return describe_error(exc, ctx.gettext)
