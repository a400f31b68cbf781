"""The app factory: `create_app(settings)` wires the web from the settings.

Routes live in one module per area (`mailgothai/web/routes/*.py`, the API in
`mailgothai/web/api/`); each module has `routes() -> list[Route]`, built with
`context.page()` (HTML) or `api.common.endpoint()` (JSON), and is listed in AREAS
below. See ARCHITECTURE.md, "Adding a page to the admin web".
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from mailgothai.paths import PROJECT_ROOT
from mailgothai.settings import Settings
from mailgothai.store.jobs import JobStore
from mailgothai.web.bodylimit import BodyCaps, BodyLimit
from mailgothai.web.context import Access
from mailgothai.web.i18n import load_translations
from mailgothai.web.metrics import RequestMetrics, WebMetrics
from mailgothai.web.security import SecurityHeaders
from mailgothai.web.state import WebState

log = logging.getLogger(__name__)
UI_DIR = PROJECT_ROOT / "admin_ui"

# Each area is a module with routes(); an area whose module is not there yet
# (another issue adds it) is skipped.
AREAS = (
    "mailgothai.web.routes.auth",
    "mailgothai.web.routes.dashboard",
    "mailgothai.web.routes.domains",
    "mailgothai.web.routes.domain_routing",  # issue 17: a domain's catch-all and alias domains
    "mailgothai.web.routes.dkim",  # issue 19: a domain's DKIM keys
    "mailgothai.web.routes.dns",  # issue 19: a domain's DNS records and their check
    "mailgothai.web.routes.accounts",
    "mailgothai.web.routes.aliases",
    "mailgothai.web.routes.shared",  # issue 17: shared role mailboxes (saraban@)
    "mailgothai.web.routes.retained",  # issue 14: deleted accounts, restore, handover, purge
    "mailgothai.web.routes.holds",  # issue 14: legal holds
    "mailgothai.web.routes.last_login",  # issue 17: the inactive accounts report
    "mailgothai.web.routes.admins",
    "mailgothai.web.routes.security_settings",
    "mailgothai.web.routes.audit",
    "mailgothai.web.routes.selfservice",
    "mailgothai.web.routes.user_security",  # issue 20: app passwords, a mail user's second factor
    "mailgothai.web.routes.password_reset",  # issue 20: forgotten passwords, a user's recovery address
    "mailgothai.web.routes.filters",  # issue 17: mail filters (self-service and an account's)
    "mailgothai.web.routes.vacation",  # issue 17: out-of-office replies (self-service and an account's)
    "mailgothai.web.routes.spam",  # issue 18: spam policies, allow and block lists (a domain's, a user's)
    "mailgothai.web.routes.password_policy",  # issue 20: a domain's password policy, the operator's floor
    "mailgothai.web.routes.quarantine",  # issue 18: the quarantine (a domain's, and a mail user's own)
    "mailgothai.web.routes.autoconfig",
    "mailgothai.web.routes.mta_sts",  # issue 19: /.well-known/mta-sts.txt for mta-sts.DOMAIN
    "mailgothai.web.routes.health",
    "mailgothai.web.metrics",  # issue 19: GET /metrics (loopback, or the metrics token)
    "mailgothai.web.imports",  # issue 4: the CSV import pages
    "mailgothai.web.api.v1",
    "mailgothai.web.api.transfer",  # issue 4: import and export over the API
)


def template_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(UI_DIR / "templates")),
                      autoescape=select_autoescape(["html", "xml"]), extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    return env


def collect_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        routes.extend(module.routes())
    static = Mount("/static", app=StaticFiles(directory=str(UI_DIR / "static")), name="static")
    static.access = Access.PUBLIC  # type: ignore[attr-defined]
    routes.append(static)
    return routes


def create_app(settings: Settings, *, background: bool = True) -> Starlette:
    """The whole web. `background`: run the quota-usage refresher and listing warmer threads."""
    env = template_environment()
    translations = load_translations()
    state = WebState.build(settings, env, translations)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if background:
            state.start_background()
        try:
            yield
        finally:
            state.close()

    metrics = WebMetrics(str(settings.metrics_token), JobStore(state.backends.store).by_state)
    app = Starlette(routes=collect_routes(), lifespan=lifespan,
                    middleware=[Middleware(RequestMetrics, metrics=metrics),
                                Middleware(SecurityHeaders, https=bool(settings.web_https)),
                                Middleware(BodyLimit, caps=BodyCaps.from_settings(settings),
                                           translations=translations)])
    app.state.web = state
    app.state.metrics = metrics
    return app
