"""App passwords and recovery codes of mail users (issue 20), with no I/O.

An app password is a random password a user makes for one mail client. It is stored twice
in the account's entry: its argon2id hash as one more value of userPassword (slapd's bind
accepts any value, so IMAP and SMTP AUTH take it without knowing which app it is), and one
value of mgtAppPassword, ``ID CREATED FINGERPRINT HASH NAME``, from which the web lists
them and refuses them (a web login never accepts an app password), and a revocation
deletes that value and the userPassword value with the same hash.

The fingerprint tells which app password logged in without an argon2 verification per
candidate: the first 32 bits of SHA-256(nonce, login, NUL, password) — exactly the hash
Dovecot's auth policy client reports (``%{hashed_password}`` with
``auth_policy_hash_truncate = 32``), so the auth policy service (IMAP) and the relay
(SMTP AUTH, which has the password) compute the same thing. App passwords are random
(80 bits), so a fast digest of one reveals nothing a guesser could use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput


def policy_nonce(secret: str) -> str:
    """Dovecot's auth_policy_hash_nonce for the stack's auth policy secret: the stack writes it
    into Dovecot's configuration, and the fingerprints below are keyed with it."""
    return hmac.new(secret.encode(), b"dovecot auth_policy_hash_nonce", hashlib.sha256).hexdigest()


MAX_APP_PASSWORDS = 10  # a failed bind makes slapd try every value of userPassword: keep it short
MAX_NAME = 64
FINGERPRINT_BITS = 32
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (0 o 1 l i)
_TIME = "%Y%m%d%H%M%SZ"


@dataclass(frozen=True)
class AppPassword:
    id: str  # 8 hex digits
    name: str
    created: datetime
    fingerprint: str  # 8 hex digits
    hash: str  # {ARGON2}$argon2id$...: the userPassword value

    def value(self) -> str:
        """The mgtAppPassword value."""
        return f"{self.id} {self.created.strftime(_TIME)} {self.fingerprint} {self.hash} {self.name}"


def parse(value: str) -> AppPassword | None:
    """An mgtAppPassword value, or None if it is not one (left as it is, never used)."""
    parts = value.split(" ", 4)
    if len(parts) != 5:
        return None
    app_id, created, fingerprint, stored, name = parts
    try:
        when = datetime.strptime(created, _TIME).replace(tzinfo=UTC)
    except ValueError:
        return None
    if not stored.startswith("{"):
        return None
    return AppPassword(app_id, name, when, fingerprint, stored)


def check_name(text: str, field: str = "name") -> str:
    """A name the user recognises (the device or program), 1 to 64 characters, no control characters."""
    name = " ".join(text.split()) if isinstance(text, str) else ""
    if not name or len(name) > MAX_NAME or any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise InvalidInput(field, Why.APP_PASSWORD_NAME(max=MAX_NAME))
    return name


def new_id() -> str:
    return secrets.token_hex(4)


def new_secret() -> str:
    """16 characters from 31 (79 bits) in four groups: typed once into a mail client."""
    chars = [secrets.choice(_ALPHABET) for _ in range(16)]
    return "-".join("".join(chars[i:i + 4]) for i in range(0, 16, 4))


def fingerprint(nonce: str, login: str, password: str) -> str:
    """Dovecot's auth policy hash of `password` for `login`, first 32 bits, in hex."""
    digest = hashlib.sha256(nonce.encode("utf-8") + login.encode("utf-8") + b"\0" + password.encode("utf-8"))
    return digest.hexdigest()[:FINGERPRINT_BITS // 4]


def matching(apps: list[AppPassword], found: str) -> AppPassword | None:
    """The app password whose fingerprint is `found` (one Dovecot reported, or one the relay
    computed), or None (the main password, or a stale fingerprint)."""
    for app in apps:
        if hmac.compare_digest(app.fingerprint, found.lower()):
            return app
    return None


def success_clears_login_failures(apps: list[AppPassword], second_factor: bool, found: str) -> bool:
    """Whether an IMAP or SMTP AUTH login that succeeded with the password of fingerprint
    `found` clears its source's failures counted under the login name (core/login_budget.py).

    A success clears only the failures of the credential it proved. Without a second factor
    the login name counts the guesses at the main password too (IMAP, SMTP AUTH and the web
    all take it): only the main password clears them, never one of the account's app
    passwords, nor a password that cannot be told from one (no fingerprint reported while
    the account has app passwords). With the second factor on, no bind takes the main
    password (the web counts it apart, under `web:`), so the failures under the login are
    guesses at app passwords, which an app password's success clears."""
    if second_factor or not apps:
        return True
    return bool(found) and matching(apps, found) is None


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes of 10 characters (49 bits) in two groups, each usable once instead of a TOTP code."""
    codes = []
    for _ in range(count):
        chars = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{chars[:5]}-{chars[5:]}")
    return codes


def recovery_code_hash(text: str) -> str | None:
    """The stored form of a recovery code as typed (spaces, dashes and case ignored), or
    None if it cannot be one."""
    code = "".join(ch for ch in text.lower() if ch not in " -\t")
    if len(code) != 10 or any(ch not in _ALPHABET for ch in code):
        return None
    return hashlib.sha256(b"mailgothai-recovery\0" + code.encode("ascii")).hexdigest()
