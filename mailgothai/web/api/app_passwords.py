"""The API of a mail user's app passwords and second factor (issue 20), for operators and
the admins of the user's domain: thin endpoints over the same service as the CLI and the
account's page (services/second_factor.AppPasswordAdmin); documented in
app_passwords_doc.py. Users make app passwords and turn TOTP on in the self-service only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from mailgothai.services.second_factor import AppPasswordAdmin, AppPasswordView, has_second_factor
from mailgothai.web.api.common import ApiCtx, Handler

P = "/api/v1"


def _service(c: ApiCtx) -> AppPasswordAdmin:
    services = c.services()
    return AppPasswordAdmin(services.backends, services.actor)


def as_dict(view: AppPasswordView) -> dict[str, object]:
    return {"id": view.app.id, "name": view.app.name, "created": view.app.created.isoformat(),
            "last_used": view.last_used.isoformat() if view.last_used else None,
            "last_protocol": view.last_protocol or None, "last_remote": view.last_remote or None}


def listing(c: ApiCtx) -> Any:
    service = _service(c)
    email = c.path("email").lower()
    views = service.list(email)  # checks the domain first
    return {"email": email, "second_factor": has_second_factor(service.b, email),
            "app_passwords": [as_dict(v) for v in views]}


def revoke(c: ApiCtx) -> Any:
    _service(c).revoke(c.path("email"), c.path("app_id"))


def second_factor_reset(c: ApiCtx) -> Any:
    _service(c).reset_second_factor(c.path("email"))


def routes(ep: Callable[..., Route]) -> list[Route]:
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (f"{P}/accounts/{{email}}/app-passwords", listing, "GET", {}),
        (f"{P}/accounts/{{email}}/app-passwords/{{app_id}}", revoke, "DELETE", {}),
        (f"{P}/accounts/{{email}}/second-factor", second_factor_reset, "DELETE", {}),
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
