"""The API of password policies (issue 20): thin endpoints over the same service as the
CLI and the pages (services/password_policy.py); documented in password_policy_doc.py.
PATCH changes the fields given (the others stay); a value of another JSON type than the
document gives is refused here, naming the field.

Also a domain's password lifecycle (issue 20: change at first login for new accounts,
maximum age, warning lead): GET/PATCH /domains/{domain}/password-lifecycle over
services/password_lifecycle.py, the CLI's `password-lifecycle` service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Route

from mailgothai.core.password_policy import FIELDS
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.services.password_lifecycle import FIELDS as LIFECYCLE_FIELDS
from mailgothai.services.password_lifecycle import PasswordLifecycleService
from mailgothai.services.password_policy import PasswordPolicyService
from mailgothai.web.api.common import ApiCtx, Handler, _whole

P = "/api/v1"
NUMBERS = ("min_length", "min_classes", "min_strength")


def _typed(body: Any) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in body.items():
        value = _whole(value) if name in NUMBERS else value
        if name in NUMBERS and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(name, Why.NOT_A_WHOLE_NUMBER())
        if name == "forbid_personal" and not isinstance(value, bool):
            raise InvalidInput(name, Why.NOT_A_BOOLEAN())
        if name == "required_classes" and (not isinstance(value, list)
                                           or not all(isinstance(v, str) for v in value)):
            raise InvalidInput(name, Why.NOT_A_STRING_LIST())
        out[name] = value
    return out


def _lifecycle_typed(body: Any) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in body.items():
        value = _whole(value)
        if name in ("must_change_generated", "must_change_on_create") and not isinstance(value, bool):
            raise InvalidInput(name, Why.NOT_A_BOOLEAN())
        if name in ("max_age_days", "warn_days") and not (
                value is None and name == "max_age_days" or isinstance(value, int) and not isinstance(value, bool)):
            raise InvalidInput(name, Why.NOT_A_WHOLE_NUMBER())
        out[name] = value
    return out


def _lifecycle(c: ApiCtx) -> PasswordLifecycleService:
    services = c.services()
    return PasswordLifecycleService(services.backends, services.actor)


def lifecycle_get(c: ApiCtx) -> Any:
    return _lifecycle(c).show(c.path("domain")).as_dict()


def lifecycle_patch(c: ApiCtx) -> Any:
    return _lifecycle(c).set(c.path("domain"), _lifecycle_typed(c.body), datetime.now(UTC)).as_dict()


def _service(c: ApiCtx) -> PasswordPolicyService:
    services = c.services()
    return PasswordPolicyService(services.backends, services.actor)


def policy_get(c: ApiCtx) -> Any:
    return _service(c).show(c.path("domain")).as_dict()


def policy_patch(c: ApiCtx) -> Any:
    return _service(c).set(c.path("domain"), _typed(c.body)).as_dict()


def policy_delete(c: ApiCtx) -> Any:
    _service(c).reset(c.path("domain"))


def floor_get(c: ApiCtx) -> Any:
    return _service(c).floor().as_dict()


def floor_patch(c: ApiCtx) -> Any:
    return _service(c).set_floor(_typed(c.body)).as_dict()


def routes(ep: Callable[..., Route]) -> list[Route]:
    body = frozenset(FIELDS)
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (f"{P}/domains/{{domain}}/password-policy", policy_get, "GET", {}),
        (f"{P}/domains/{{domain}}/password-policy", policy_patch, "PATCH", {"body": body}),
        (f"{P}/domains/{{domain}}/password-policy", policy_delete, "DELETE", {}),
        (f"{P}/password-policy", floor_get, "GET", {}),
        (f"{P}/password-policy", floor_patch, "PATCH", {"body": body}),
        (f"{P}/domains/{{domain}}/password-lifecycle", lifecycle_get, "GET", {}),
        (f"{P}/domains/{{domain}}/password-lifecycle", lifecycle_patch, "PATCH",
         {"body": frozenset(LIFECYCLE_FIELDS)}),
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
