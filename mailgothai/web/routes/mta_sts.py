"""The MTA-STS policy (RFC 8461 3.2) at /.well-known/mta-sts.txt, for requests to
mta-sts.DOMAIN of a hosted, active domain (the Host header; a reverse proxy passes it
on): text/plain, no login. Any other host: 404. Senders fetch it over HTTPS with a
certificate valid for mta-sts.DOMAIN: the web's TLS (web_tls) or the proxy in front
provides that."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from mailgothai.errors import BackendError, InvalidInput
from mailgothai.services.dns_check import mta_sts_policy_for
from mailgothai.web.context import Access
from mailgothai.web.state import WebState

log = logging.getLogger(__name__)


def policy(request: Request) -> Response:
    state: WebState = request.app.state.web
    try:
        text = mta_sts_policy_for(state.backends, request.url.hostname or "")
    except BackendError:
        return PlainTextResponse("unavailable\n", status_code=503)
    except InvalidInput as exc:  # the operator's settings (mx_hosts, …) cannot make a policy
        log.warning("no MTA-STS policy: %s", exc)
        return PlainTextResponse("no policy: the service's settings are incomplete\n", status_code=503)
    if text is None:
        return PlainTextResponse("not found\n", status_code=404)
    return PlainTextResponse(text)


def routes() -> list[Route]:
    route = Route("/.well-known/mta-sts.txt", policy, methods=["GET"])
    route.access = Access.PUBLIC  # type: ignore[attr-defined]
    return [route]
