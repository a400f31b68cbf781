"""The API of inbound protection (issue 18): thin endpoints over the same service as the
CLI and the pages (services/spam_policy.py); documented in spam_doc.py. JSON carries
numbers, booleans and null: a value of another type is refused here, naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.web.api.common import ApiCtx, Handler, _whole

P = "/api/v1"
SCORES = ("junk_score", "quarantine_score", "reject_score", "lowest_score", "highest_score")
FLAGS = ("greylisting", "may_disable_greylisting")
DAYS = ("quarantine_days", "longest_quarantine_days")
POLICY = frozenset({"junk_score", "quarantine_score", "reject_score", "greylisting", "quarantine_days"})
BOUNDS = frozenset({"lowest_score", "highest_score", "longest_quarantine_days", "may_disable_greylisting"})


def _typed(body: Any) -> dict[str, object]:
    """The body's fields, each of the JSON type the document gives it."""
    out: dict[str, object] = {}
    for name, value in body.items():
        value = _whole(value) if name in DAYS else value
        if name in SCORES and (isinstance(value, bool) or not isinstance(value, int | float | None)):
            raise InvalidInput(name, Why.NOT_A_SCORE(value=repr(value)))
        if name in FLAGS and not isinstance(value, bool):
            raise InvalidInput(name, Why.NOT_A_BOOLEAN())
        if name in DAYS and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(name, Why.NOT_A_WHOLE_NUMBER())
        out[name] = value
    return out


def policy_get(c: ApiCtx) -> Any:
    return c.services().spam.show(c.path("domain")).as_dict()


def policy_patch(c: ApiCtx) -> Any:
    return c.services().spam.set(c.path("domain"), _typed(c.body)).as_dict()


def policy_delete(c: ApiCtx) -> Any:
    c.services().spam.reset(c.path("domain"))


def defaults_get(c: ApiCtx) -> Any:
    return c.services().spam.defaults().as_dict()


def defaults_patch(c: ApiCtx) -> Any:
    return c.services().spam.set_defaults(_typed(c.body)).as_dict()


def counts_get(c: ApiCtx) -> Any:
    return {"items": [row.as_dict() for row in c.services().spam.counts()]}


def _rules(owner_param: str) -> tuple[Handler, Handler, Handler]:
    def listed(c: ApiCtx) -> Any:
        return {"items": [r.as_dict() for r in c.services().spam.rules(c.path(owner_param))]}

    def add(c: ApiCtx) -> Any:
        kind, pattern = c.text("kind", required=True), c.text("pattern", required=True)
        return c.services().spam.add_rule(c.path(owner_param), kind, pattern).as_dict()

    def remove(c: ApiCtx) -> Any:
        try:
            c.services().spam.remove_rule(c.path(owner_param), c.path("kind"), c.path("pattern"))
        except InvalidInput:  # a path that cannot name a list entry names none
            raise NotFound("list entry", c.path("pattern")) from None

    return listed, add, remove


def routes(ep: Callable[..., Route]) -> list[Route]:
    f = frozenset
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (f"{P}/domains/{{domain}}/spam-policy", policy_get, "GET", {}),
        (f"{P}/domains/{{domain}}/spam-policy", policy_patch, "PATCH", {"body": POLICY}),
        (f"{P}/domains/{{domain}}/spam-policy", policy_delete, "DELETE", {}),
        (f"{P}/spam/defaults", defaults_get, "GET", {}),
        (f"{P}/spam/defaults", defaults_patch, "PATCH", {"body": POLICY | BOUNDS}),
        (f"{P}/spam/counts", counts_get, "GET", {}),
    ]
    for owner, param in (("domains/{domain}", "domain"), ("accounts/{email}", "email")):
        listed, add, remove = _rules(param)
        endpoints += [
            (f"{P}/{owner}/sender-rules", listed, "GET", {}),
            (f"{P}/{owner}/sender-rules", add, "POST", {"body": f({"kind", "pattern"}), "status": 201}),
            (f"{P}/{owner}/sender-rules/{{kind}}/{{pattern}}", remove, "DELETE", {}),
        ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
