"""An administrator's own password (and its TOTP code, if it has the second factor on),
asked again before a step that would give whoever holds the session or a token a way in
that outlives it: a new API token (services/tokens.py), or its own new password
(services/admins.py, `change_own_password`, which names the password "current_password").

The admins' counterpart of second_factor.check_current_password (a mail user's): counted in
the login budget (services/login_budget.py) as that one is, under the name the admin logs
in with (the code under `code_name`, as at login) and the same source of its own,
"self-service:<login>". After a few wrong ones the check is refused for a while without a
password check, so a stolen session or token cannot try passwords faster than the login
form would let it; a right one clears only its own pair.
"""

from __future__ import annotations

from collections.abc import Callable

from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import InvalidInput
from mailgothai.services.auth import Clock, code_name, utcnow
from mailgothai.services.backends import Backends
from mailgothai.services.login_budget import Exhausted, LoginBudget, shared_budget
from mailgothai.services.totp import TotpService


def _counted(budget: LoginBudget, name: str, source: str, field: str, check: Callable[[], bool],
             wrong: Reason, refused: Callable[[int], Reason]) -> None:
    try:
        right = budget.counted(name, source, check)
    except Exhausted as exhausted:
        raise InvalidInput(field, refused(exhausted.minutes)) from None
    if not right:
        raise InvalidInput(field, wrong)


def reauthenticate_admin(backends: Backends, login: str, password: str, code: str = "",
                         clock: Clock = utcnow, *, password_field: str = "password") -> None:
    """Nothing if `password` is admin `login`'s (checked by slapd, as at login) and, when the
    admin has TOTP on, `code` is a fresh code of it (used up); otherwise InvalidInput naming
    `password_field` ("password" unless the caller's form names it otherwise) or "code". An
    empty one is refused as missing, not counted (no guess)."""
    from mailgothai.services.second_factor import SELF_SERVICE_SOURCE  # the store on first use

    if not password:
        raise InvalidInput(password_field, Why.REQUIRED())
    budget = shared_budget(backends.store, backends.settings)
    source = f"{SELF_SERVICE_SOURCE}:{login}"
    _counted(budget, login, source, password_field, lambda: backends.admins.check_password(login, password),
             Why.NOT_CURRENT_PASSWORD(), lambda minutes: Why.CURRENT_PASSWORD_REFUSED(minutes=minutes))
    totp = TotpService(backends.store, str(backends.settings.web_secret_key), clock)
    if not totp.enabled(login):
        return
    if not code.strip():
        raise InvalidInput("code", Why.TOTP_SHAPE())
    _counted(budget, code_name(login), source, "code", lambda: totp.verify(login, code),
             Why.TOTP_WRONG(), lambda minutes: Why.CODES_REFUSED(minutes=minutes))
