"""`mailgothai auth-policy run`: Dovecot's auth policy server, answered from the login
budget every login shares (services/login_budget.py). Loopback only; a request must
carry the stack's secret in `HEADER` (Dovecot's `auth_policy_server_api_header`).

A login counts for the account it opens, as the relay and the web count it: an address
lower-cased and normalized, local@ALIAS-DOMAIN as local@ITS-DOMAIN (`canonical`: the
relay's own directory read, RelayDirectory.canonical, cached). Dovecot names the login
as typed (`%{requested_username}`: it asks before its passdbs rename an alias domain's
login), so without this the alias form was a budget of its own, apart from the one the
relay and the web check.

A success clears only the failures of the credential it proved: with `credentials` (the
account's app passwords and second factor, read from the directory), an app password's
success (Dovecot reports its fingerprint) leaves the failures under the login of an account
without a second factor, which may be guesses at its main password
(core/app_passwords.success_clears_login_failures)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mailgothai.core.addresses import normalize_address
from mailgothai.core.app_passwords import success_clears_login_failures
from mailgothai.core.auth_policy import HEADER, PolicyRequest, PolicyRequestError, answer, parse_request
from mailgothai.core.last_login import mail_client_protocol
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.login_budget import LoginBudget

if TYPE_CHECKING:
    from mailgothai.core.app_passwords import AppPassword
    from mailgothai.services.app_use import AppUseRecorder
    from mailgothai.services.last_login import LoginRecorder

MAX_BODY = 16384
log = logging.getLogger("mailgothai.authpolicy")


def create_app(budget: LoginBudget, secret: str, recorder: LoginRecorder | None = None,
               app_uses: AppUseRecorder | None = None,
               canonical: Callable[[str], str] | None = None,
               credentials: Callable[[str], tuple[list[AppPassword], bool]] | None = None) -> Starlette:
    """`recorder`: a successful login reported is an IMAP (or POP3) login of the account
    (services/last_login.py), kept in memory and written in batches. `app_uses`: and, if
    its password's fingerprint is one of the account's app passwords, that one's last use
    (services/app_use.py, written in batches too). `canonical`: an address with an alias
    domain as the address at the domain it stands for (blocking, may read the directory);
    None: addresses as they are (only normalized). `credentials`: an account's app passwords
    and whether its second factor is on (blocking, reads the directory; asked only when a
    success has failures to clear); None: every success clears them."""
    expected = secret.encode()

    def account_of(login: str) -> str:
        """What the budget counts `login` under: the relay's and the web's name for it."""
        try:
            address = normalize_address(login, "login")
        except InvalidInput:  # no address: counted as typed, as the relay does
            return login
        return canonical(address) if canonical is not None else address

    def clears(account: str, pwhash: str) -> bool:
        """Whether a success with the password of fingerprint `pwhash` clears the failures
        under the login; the directory unreadable: it clears none."""
        assert credentials is not None
        if "@" not in account:  # no account's name: no app passwords to tell apart
            return True
        try:
            apps, second_factor = credentials(account)
        except MailGoThaiError as exc:
            log.warning("auth policy: a success of %s clears no failures: %s", account, exc)
            return False
        return success_clears_login_failures(apps, second_factor, pwhash)

    def decide(request: PolicyRequest) -> dict[str, object]:
        account = account_of(request.login)
        if request.command == "allow":
            return answer(budget.check(account, request.remote))
        if request.success:
            protocol = mail_client_protocol(request.protocol)
            if recorder is not None and protocol is not None:
                recorder.record(request.login, protocol, request.remote)
            if app_uses is not None and protocol is not None and request.pwhash:
                app_uses.record(request.user or request.login, request.pwhash, protocol, request.remote)
            budget.succeeded(account, request.remote,
                             None if credentials is None else lambda: clears(account, request.pwhash))
        elif not request.policy_reject:  # a refusal of ours is not another failure
            budget.failed(account, request.remote)
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
