"""The API of password policies (issue 20): thin endpoints over the same service as the
CLI and the pages (services/password_policy.py); documented in password_policy_doc.py.
PATCH changes the fields given (the others stay); a value of another JSON type than the
document gives is refused here, naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from mailgothai.core.password_policy import FIELDS
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
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
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
