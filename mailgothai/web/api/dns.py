"""A domain's DNS records over the API (issue 19): what to publish, and a check of what
DNS says, through the same service as the CLI and the page (services/dns_check.py: the
scope check); documented in dns_doc.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from mailgothai.web.api.common import ApiCtx, Handler

P = "/api/v1"
DNS = f"{P}/domains/{{domain}}/dns"


def records(c: ApiCtx) -> Any:
    return c.services().dns.records(c.path("domain")).as_data()


def check(c: ApiCtx) -> Any:
    return c.services().dns.check(c.path("domain")).as_data()


def routes(ep: Callable[..., Route]) -> list[Route]:
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (DNS, records, "GET", {}),
        (f"{DNS}/check", check, "POST", {"body": frozenset()}),
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
