"""The API of shared role mailboxes (issue 17, saraban@): thin endpoints over the same
service as the CLI and the pages (services/shared.py); documented in openapi.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from mailgothai.core.addresses import address_in
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.web.api.common import ApiCtx, Handler

P = "/api/v1"


def shared_list(c: ApiCtx) -> Any:
    return {"items": [listing.as_dict() for listing in c.services().shared.for_domain(c.path("domain"))]}


def shared_create(c: ApiCtx) -> Any:
    svc = c.services()
    domain = svc.domains.get(c.path("domain"))
    address = address_in(c.text("local_part", required=True) or "", domain.name)
    shared = svc.shared.add(address, name=c.text("name") or "", quota=c.size("quota"))
    return svc.shared.show(shared.address).as_dict()


def shared_get(c: ApiCtx) -> Any:
    return c.services().shared.show(c.path("address")).as_dict()


def shared_delete(c: ApiCtx) -> Any:
    c.services().shared.remove(c.path("address"))


def member_put(c: ApiCtx) -> Any:
    rights = c.strings("rights")
    if rights is None:
        raise InvalidInput("rights", Why.REQUIRED())
    member = c.services().shared.add_member(c.path("address"), c.path("email"), rights)
    return {"email": member.email, "rights": member.rights_text.split(","), "active": member.active}


def member_delete(c: ApiCtx) -> Any:
    c.services().shared.remove_member(c.path("address"), c.path("email"))


def routes(ep: Callable[..., Route]) -> list[Route]:
    f = frozenset
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (f"{P}/domains/{{domain}}/shared", shared_list, "GET", {}),
        (f"{P}/domains/{{domain}}/shared", shared_create, "POST", {"body": f({"local_part", "name", "quota"}),
                                                                   "status": 201}),
        (f"{P}/shared/{{address}}", shared_get, "GET", {}),
        (f"{P}/shared/{{address}}", shared_delete, "DELETE", {}),
        (f"{P}/shared/{{address}}/members/{{email}}", member_put, "PUT", {"body": f({"rights"})}),
        (f"{P}/shared/{{address}}/members/{{email}}", member_delete, "DELETE", {}),
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
