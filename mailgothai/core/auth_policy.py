"""Dovecot's auth policy protocol (Dovecot 2.3, `auth_policy_server_url`), pure.

Dovecot POSTs a JSON object built from `auth_policy_request_attributes` to the URL with
`?command=allow` before it checks a password, and with `?command=report` after the
login, adding `success` and `policy_reject` (true when the policy refused it). The
answer is `{"status": N, "msg": "..."}`: to `allow`, N < 0 refuses the login, 0 lets
it go on, N > 0 makes Dovecot wait N seconds first; to `report`, N is ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from mailgothai.core.login_budget import Verdict

COMMANDS = ("allow", "report")
HEADER = "X-MailGoThai-Policy-Key"  # carries the stack's secret (auth_policy_server_api_header)


class PolicyRequestError(ValueError):
    """A request that is not Dovecot's: names the part and the reason."""


@dataclass(frozen=True)
class PolicyRequest:
    command: str
    login: str
    remote: str
    protocol: str = ""
    success: bool = False  # report only
    policy_reject: bool = False  # report only: the failure was this policy's refusal, not a password
    pwhash: str = ""  # the fingerprint of the password (issue 20: which app password; core/app_passwords.py)
    user: str = ""  # the account's name after the passdb


def _text(data: dict[str, Any], name: str, required: bool) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise PolicyRequestError(f"{name}: must be a string")
    if required and not value.strip():
        raise PolicyRequestError(f"{name}: missing")
    return value.strip()


def parse_request(command: str, body: bytes) -> PolicyRequest:
    if command not in COMMANDS:
        raise PolicyRequestError(f"command: must be allow or report, not {command[:20]!r}")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PolicyRequestError(f"body: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PolicyRequestError("body: must be a JSON object")
    success, reject = data.get("success", False), data.get("policy_reject", False)
    if command == "report" and not isinstance(success, bool):
        raise PolicyRequestError("success: must be true or false")
    return PolicyRequest(command, _text(data, "login", True)[:320], _text(data, "remote", True)[:64],
                         _text(data, "protocol", False)[:32], success is True, reject is True,
                         _text(data, "pwhash", False)[:64], _text(data, "user", False)[:320])


def answer(verdict: Verdict) -> dict[str, Any]:
    """The answer to `allow` for a verdict of the login budget."""
    if verdict.refused:
        return {"status": -1, "msg": f"too many failed logins; try again in {math.ceil(verdict.refuse_for)} s"}
    if verdict.delay > 0:
        return {"status": max(1, math.ceil(verdict.delay)), "msg": ""}
    return {"status": 0, "msg": ""}
