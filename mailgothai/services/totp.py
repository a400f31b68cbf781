"""TOTP second factor for administrators (RFC 6238 through pyotp), and for mail users
(services/second_factor.py, with their own table).

Optional per admin; the setting `web_require_totp` makes it compulsory (an admin
without one enrols at the next login). The secret is kept in SQL encrypted with
AES-GCM under a key derived from `web_secret_key`; a code's time step is remembered so
the same code cannot be used twice.
"""

from __future__ import annotations

import pyotp

from mailgothai.core.reasons import Why
from mailgothai.core.totp_box import TotpBox
from mailgothai.errors import InvalidInput
from mailgothai.services.actor import Actor
from mailgothai.services.auth import Clock, utcnow
from mailgothai.services.backends import Backends
from mailgothai.store.db import Store
from mailgothai.store.totp import TotpRecord, TotpRecords

ISSUER = "MailGoThai"
VALID_WINDOW = 1  # one 30 s step either side: clocks drift


def _code(text: str) -> str:
    code = "".join(ch for ch in text if not ch.isspace())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise InvalidInput("code", Why.TOTP_SHAPE())
    return code


class TotpService:
    def __init__(self, store: Store, secret_key: str, clock: Clock = utcnow,
                 records: TotpRecords | None = None) -> None:
        self._records = records or TotpRecords(store)  # admins'; mail users' (services/second_factor.py)
        self._secret_key = secret_key
        self._clock = clock

    def _box(self) -> TotpBox:
        return TotpBox(self._secret_key)

    def enabled(self, login: str) -> bool:
        record = self._records.get(login)
        return bool(record and record.enabled)

    def begin(self, login: str) -> str:
        """A new secret for `login`, not in force until confirmed with a code from it.
        Returns the otpauth:// URI for the authenticator app."""
        secret = pyotp.random_base32()
        if not self._records.put_pending(login, self._box().seal(login, secret), self._clock()):
            raise InvalidInput("totp", Why.TOTP_ALREADY_ON())
        return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)

    def pending_uri(self, login: str) -> str | None:
        record = self._records.get(login)
        if record is None or record.enabled:
            return None
        secret = self._box().open(login, record.secret_sealed)
        return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)

    def _accept(self, record: TotpRecord, code: str, *, enable: bool = False) -> bool:
        """True if `code` is the secret's for a time step near now that is later than the
        last one used; that step is then used up (in the store, so not twice)."""
        totp = pyotp.TOTP(self._box().open(record.login, record.secret_sealed))
        now = self._clock().timestamp()
        for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
            step = int(now // totp.interval) + offset
            if step > record.last_step and pyotp.utils.strings_equal(totp.at(step * totp.interval), code):
                return self._records.use_step(record.login, step, enable=enable)
        return False

    def confirm(self, login: str, code: str) -> None:
        """Turn the pending secret on, if `code` comes from it."""
        code = _code(code)
        record = self._records.get(login)
        if record is None or record.enabled:
            raise InvalidInput("code", Why.TOTP_NOT_STARTED())
        if not self._accept(record, code, enable=True):
            raise InvalidInput("code", Why.TOTP_WRONG())

    def verify(self, login: str, code: str) -> bool:
        """True once per valid code of an enabled second factor."""
        try:
            code = _code(code)
        except InvalidInput:
            return False
        record = self._records.get(login)
        if record is None or not record.enabled:
            return False
        return self._accept(record, code)

    def disable(self, login: str) -> bool:
        return self._records.remove(login)


def reset_second_factor(totp: TotpService, backends: Backends, actor: Actor, login: str) -> bool:
    """An operator removes another admin's second factor (a lost phone); audited. Never
    its own: a stolen session would take the second factor away without a code. One turns
    one's own off on "My security" (/security/totp/disable), which asks for a code. (The
    CLI's actor, "cli:<user>", is no admin's login.)"""
    actor.require_superadmin()
    admin = backends.admins.get(login)
    if admin.login == actor.login:
        raise InvalidInput("login", Why.OWN_SECOND_FACTOR())
    removed = totp.disable(admin.login)
    if removed:
        backends.audit.record(actor=actor.login, origin=actor.origin, action="admin.totp_reset",
                              object_type="admin", object_id=admin.login)
    return removed
