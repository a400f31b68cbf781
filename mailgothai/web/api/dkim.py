"""A domain's DKIM keys over the API (issue 19): thin endpoints over the same service as
the CLI and the pages (services/dkim.py: scope checks, audit records, the relay told);
documented in dkim_doc.py. Each key carries its DNS record, ready to publish."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.routing import Route

from mailgothai.core.dkim import split_txt
from mailgothai.services.dkim import record_of
from mailgothai.store.relay_state import DkimKey
from mailgothai.web.api.common import ApiCtx, Handler

P = "/api/v1"
KEYS = f"{P}/domains/{{domain}}/dkim"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def key_json(key: DkimKey) -> dict[str, Any]:
    record = record_of(key)
    return {"domain": key.domain, "selector": key.selector, "algorithm": key.algorithm, "state": key.state.value,
            "created_at": _iso(key.created_at), "switch_after": _iso(key.switch_after),
            "activated_at": _iso(key.activated_at), "retire_after": _iso(key.retire_after),
            "retired_at": _iso(key.retired_at),
            "dns": {"name": record.name, "type": "TXT", "text": record.text, "strings": split_txt(record.text),
                    "zone_line": record.zone_line}}


def keys_list(c: ApiCtx) -> Any:
    return {"items": [key_json(k) for k in c.services().dkim.list(c.path("domain"))]}


def key_get(c: ApiCtx) -> Any:
    return key_json(c.services().dkim.get(c.path("domain"), c.path("selector")))


def generate(c: ApiCtx) -> Any:
    return key_json(c.services().dkim.generate(c.path("domain"), c.text("algorithm") or "rsa", c.text("selector")))


def rotate(c: ApiCtx) -> Any:
    return key_json(c.services().dkim.rotate(c.path("domain"), c.text("algorithm") or "rsa", c.text("selector"),
                                             c.count("switch_after")))


def activate(c: ApiCtx) -> Any:
    return key_json(c.services().dkim.activate(c.path("domain"), c.path("selector")))


def retire(c: ApiCtx) -> Any:
    return key_json(c.services().dkim.retire(c.path("domain"), c.path("selector")))


def routes(ep: Callable[..., Route]) -> list[Route]:
    f = frozenset
    endpoints: list[tuple[str, Handler, str, dict[str, Any]]] = [
        (KEYS, keys_list, "GET", {}),
        (f"{KEYS}/generate", generate, "POST", {"body": f({"algorithm", "selector"}), "status": 201}),
        (f"{KEYS}/rotate", rotate, "POST", {"body": f({"algorithm", "selector", "switch_after"}), "status": 201}),
        (f"{KEYS}/keys/{{selector}}", key_get, "GET", {}),
        (f"{KEYS}/keys/{{selector}}/activate", activate, "POST", {"body": f()}),
        (f"{KEYS}/keys/{{selector}}/retire", retire, "POST", {"body": f()}),
    ]
    return [ep(path, handler, method, **kw) for path, handler, method, kw in endpoints]
