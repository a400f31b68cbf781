"""`mailgothai auth-policy run`: Dovecot's auth policy server, answered from the login
budget every login shares (services/login_budget.py). Loopback only; a request must
carry the stack's secret in `HEADER` (Dovecot's `auth_policy_server_api_header`)."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mailgothai.core.auth_policy import HEADER, PolicyRequest, PolicyRequestError, answer, parse_request
from mailgothai.core.last_login import mail_client_protocol
from mailgothai.errors import MailGoThaiError
from mailgothai.services.login_budget import LoginBudget

if TYPE_CHECKING:
    from mailgothai.services.app_use import AppUseRecorder
    from mailgothai.services.last_login import LoginRecorder

MAX_BODY = 16384
log = logging.getLogger("mailgothai.authpolicy")


def create_app(budget: LoginBudget, secret: str, recorder: LoginRecorder | None = None,
               app_uses: AppUseRecorder | None = None) -> Starlette:
    """`recorder`: a successful login reported is an IMAP (or POP3) login of the account
    (services/last_login.py), kept in memory and written in batches. `app_uses`: and, if
    its password's fingerprint is one of the account's app passwords, that one's last use
    (services/app_use.py, written in batches too)."""
    expected = secret.encode()

    def decide(request: PolicyRequest) -> dict[str, object]:
        if request.command == "allow":
            return answer(budget.check(request.login, request.remote))
        if request.success:
            protocol = mail_client_protocol(request.protocol)
            if recorder is not None and protocol is not None:
                recorder.record(request.login, protocol, request.remote)
            if app_uses is not None and protocol is not None and request.pwhash:
                app_uses.record(request.user or request.login, request.pwhash, protocol, request.remote)
            budget.succeeded(request.login, request.remote)
        elif not request.policy_reject:  # a refusal of ours is not another failure
            budget.failed(request.login, request.remote)
        return {"status": 0, "msg": ""}

    async def policy(request: Request) -> JSONResponse:
        given = request.headers.get(HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            return JSONResponse({"status": 0, "msg": "not authorised"}, status_code=401)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"status": 0, "msg": "body too large"}, status_code=413)
        try:
            parsed = parse_request(request.query_params.get("command", ""), body)
        except PolicyRequestError as exc:
            return JSONResponse({"status": 0, "msg": str(exc)}, status_code=400)
        try:
            return JSONResponse(await run_in_threadpool(decide, parsed))
        except MailGoThaiError as exc:  # the store is down: Dovecot goes on (auth_policy_reject_on_fail = no)
            log.warning("auth policy: %s", exc)
            return JSONResponse({"status": 0, "msg": "policy unavailable"}, status_code=503)

    return Starlette(routes=[Route("/", policy, methods=["POST"])])
