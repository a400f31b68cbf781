"""Password hashing, policy, and the stored hash forms the service accepts.

New passwords are argon2id, stored as ``{ARGON2}$argon2id$v=19$m=…,t=…,p=…$salt$hash``:
the form slapd's argon2 module verifies (Dovecot reads the same string as ``{ARGON2ID}``).
Hashes imported from older systems (``{SSHA}``, ``{SSHA512}``, ``{CRYPT}``) are kept as
they are and replaced with argon2id at the next successful login (see :func:`is_legacy_hash`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 256
SCHEMES = ("ARGON2", "SSHA", "SSHA512", "CRYPT")
# Dovecot's name for the same argon2id string; imported as {ARGON2}, the prefix slapd knows.
_SCHEME_ALIASES = {"ARGON2ID": "ARGON2"}
_DIGEST_LENGTH = {"SSHA": 20, "SSHA512": 64}
_DIGEST = {"SSHA": hashlib.sha1, "SSHA512": hashlib.sha512}

# Upper bounds for imported argon2 hashes: each login would pay their cost (memory in KiB).
MAX_ARGON2_MEMORY_KIB = 1024 * 1024
MAX_ARGON2_TIME_COST = 64
MAX_ARGON2_PARALLELISM = 64

_PREFIX = re.compile(r"\{([A-Za-z0-9._-]+)\}")
_PHC = re.compile(
    r"\$(argon2id|argon2i|argon2d)\$(?:v=([0-9]+)\$)?m=([0-9]+),t=([0-9]+),p=([0-9]+)"
    r"\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)",
    re.ASCII,
)
_CRYPT = re.compile(r"[\x21-\x7e]+", re.ASCII)

# Generated passwords: no look-alikes (0 O o 1 l I), no quotes, separators or backslash.
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
_SYMBOLS = "!#%*+-=?@_"


class UnsupportedScheme(ValueError):
    """This module cannot verify the stored hash (e.g. ``{CRYPT}``); let slapd verify it by a bind."""


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost; defaults are OWASP's (see STACK-NOTES), the real values come from Settings."""

    time_cost: int = 2
    memory_kib: int = 19456
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1 or self.memory_kib < 8 * self.parallelism:
            raise ValueError(f"invalid argon2 parameters: {self}")

    @classmethod
    def from_settings(cls, settings: Any) -> Argon2Params:
        """From an object with ``argon2_time_cost``, ``argon2_memory_kib``, ``argon2_parallelism``."""
        return cls(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


@functools.lru_cache(maxsize=8)
def _hasher(params: Argon2Params) -> PasswordHasher:
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


@functools.lru_cache(maxsize=8)
def _nobodys_hash(params: Argon2Params) -> str:
    return _hasher(params).hash(secrets.token_urlsafe(24))


def verify_for_nobody(plain: str, params: Argon2Params) -> None:
    """Spend one argon2id verification of `plain` on a hash nobody holds: a login for an
    address no (active) account has takes as long as a wrong password for one that does, so
    the time of the answer tells nobody which addresses exist."""
    try:
        _hasher(params).verify(_nobodys_hash(params), plain)
    except (VerificationError, InvalidHashError):
        pass


def hash_password(plain: str, params: Argon2Params) -> str:
    """``{ARGON2}$argon2id$…`` for ``plain`` (no policy check: call check_password_policy first)."""
    return "{ARGON2}" + _hasher(params).hash(plain)


def check_password_policy(plain: str, field: str = "password") -> None:
    """8 to 256 characters, no control characters."""
    if not isinstance(plain, str):
        raise InvalidInput(field, Why.NOT_TEXT())
    if len(plain) < MIN_LENGTH:
        raise InvalidInput(field, Why.TOO_SHORT(n=MIN_LENGTH))
    if len(plain) > MAX_LENGTH:
        raise InvalidInput(field, Why.TOO_LONG(max=MAX_LENGTH))
    for c in plain:
        category = unicodedata.category(c)
        if category == "Cc":
            raise InvalidInput(field, Why.CONTROL_CHARACTER())
        if category == "Cs":
            raise InvalidInput(field, Why.LONE_SURROGATE())


def generate_password(length: int = 16) -> str:
    """A random password with lower, upper, digit and symbol, starting with a letter.

    Starting with a letter keeps it intact in a CSV cell (no formula escaping).
    """
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"length must be {MIN_LENGTH}..{MAX_LENGTH}, not {length}")
    alphabet = _LOWER + _UPPER + _DIGITS + _SYMBOLS
    rest = [secrets.choice(s) for s in (_LOWER, _UPPER, _DIGITS, _SYMBOLS)]
    rest += [secrets.choice(alphabet) for _ in range(length - 1 - len(rest))]
    secrets.SystemRandom().shuffle(rest)
    return secrets.choice(_LOWER + _UPPER) + "".join(rest)


def _split(value: str) -> tuple[str | None, str]:
    """(upper-cased scheme as written, rest) or (None, value) without a ``{…}`` prefix."""
    m = _PREFIX.match(value)
    if not m:
        return None, value
    return m.group(1).upper(), value[m.end() :]


def has_scheme_prefix(value: str) -> bool:
    """Whether ``value`` starts with a ``{SCHEME}`` prefix, supported or not (i.e. is meant as a hash)."""
    return _split(value.strip())[0] is not None


def classify_hash(value: str) -> str | None:
    """"ARGON2", "SSHA", "SSHA512" or "CRYPT" for a stored hash; None for anything else."""
    scheme, _ = _split(value.strip())
    scheme = _SCHEME_ALIASES.get(scheme or "", scheme)
    return scheme if scheme in SCHEMES else None


def _b64decode(text: str, pad: bool = False) -> bytes | None:
    if pad:
        text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class _Argon2Hash:
    variant: str
    version: int
    memory_kib: int
    time_cost: int
    parallelism: int


def _parse_argon2(phc: str) -> _Argon2Hash | Reason:
    """The parameters of a PHC argon2 string, or the reason it is not acceptable."""
    m = _PHC.fullmatch(phc)
    if not m:
        return Why.ARGON2_MALFORMED()
    variant, version, mem, time, par, salt, digest = m.groups()
    if variant == "argon2d":
        return Why.ARGON2D_REFUSED()
    ver = int(version) if version is not None else 16
    if ver not in (16, 19):
        return Why.ARGON2_VERSION(version=ver)
    h = _Argon2Hash(variant, ver, int(mem), int(time), int(par))
    if not 1 <= h.parallelism <= MAX_ARGON2_PARALLELISM:
        return Why.ARGON2_PARALLELISM(value=h.parallelism, high=MAX_ARGON2_PARALLELISM)
    if not 1 <= h.time_cost <= MAX_ARGON2_TIME_COST:
        return Why.ARGON2_TIME_COST(value=h.time_cost, high=MAX_ARGON2_TIME_COST)
    if not 8 * h.parallelism <= h.memory_kib <= MAX_ARGON2_MEMORY_KIB:
        low = 8 * h.parallelism
        return Why.ARGON2_MEMORY(value=h.memory_kib, low=low, high=MAX_ARGON2_MEMORY_KIB)
    salt_bytes, digest_bytes = _b64decode(salt, pad=True), _b64decode(digest, pad=True)
    if salt_bytes is None or digest_bytes is None:
        return Why.ARGON2_BASE64()
    if len(salt_bytes) < 8:
        return Why.ARGON2_SHORT_SALT()
    if len(digest_bytes) < 4:
        return Why.ARGON2_SHORT_HASH()
    return h


def _salted_parts(scheme: str, rest: str) -> tuple[bytes, bytes] | Reason:
    """(digest, salt) of an {SSHA}/{SSHA512} value, or the reason it is not acceptable."""
    raw = _b64decode(rest)
    if raw is None or not rest:
        return Why.HASH_BASE64(scheme=scheme)
    n = _DIGEST_LENGTH[scheme]
    if len(raw) <= n:
        return Why.HASH_TOO_SHORT(scheme=scheme, n=n)
    return raw[:n], raw[n:]


def validate_stored_hash(value: str, field: str = "password") -> str:
    """Check an imported hash; return it with its prefix in the stored form (``{SSHA}``, ``{ARGON2}``...)."""
    written, rest = _split(value.strip())
    if written is None:
        raise InvalidInput(field, Why.HASH_NO_PREFIX())
    scheme = _SCHEME_ALIASES.get(written, written)
    if scheme not in SCHEMES:
        raise InvalidInput(field, Why.HASH_SCHEME_UNSUPPORTED(scheme=written))
    problem: Reason | None = None
    if scheme == "ARGON2":
        parsed = _parse_argon2(rest)
        problem = parsed if isinstance(parsed, Reason) else None
    elif scheme in _DIGEST_LENGTH:
        parts = _salted_parts(scheme, rest)
        problem = parts if isinstance(parts, Reason) else None
    elif not rest:
        problem = Why.CRYPT_EMPTY()
    elif not _CRYPT.fullmatch(rest):
        problem = Why.CRYPT_UNPRINTABLE()
    if problem:
        raise InvalidInput(field, problem)
    return f"{{{scheme}}}{rest}"


def _encodable(plain: str) -> bool:
    try:
        plain.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def verify_password(plain: str, stored: str) -> bool:
    """Whether ``plain`` matches ``stored`` ({ARGON2}, {SSHA}, {SSHA512}); False if it is malformed.

    Raises UnsupportedScheme for {CRYPT} and unknown schemes: slapd verifies those by a bind.
    """
    written, rest = _split(stored.strip())
    scheme = _SCHEME_ALIASES.get(written or "", written)
    if scheme in ("ARGON2", *_DIGEST_LENGTH) and not _encodable(plain):
        return False
    if scheme == "ARGON2":
        if isinstance(_parse_argon2(rest), Reason):
            return False
        try:
            return _hasher(Argon2Params()).verify(rest, plain)
        except (VerificationError, InvalidHashError):
            return False
    if scheme in _DIGEST_LENGTH:
        parts = _salted_parts(scheme, rest)
        if isinstance(parts, Reason):
            return False
        digest, salt = parts
        return hmac.compare_digest(_DIGEST[scheme](plain.encode("utf-8") + salt).digest(), digest)
    raise UnsupportedScheme(f"cannot verify {{{written}}} hashes here" if written else "not a password hash")


def is_legacy_hash(stored: str) -> bool:
    """True for a hash an older system wrote (anything but argon2id): the stored value is
    marked, and replaced with argon2id at the account's next successful login. Stored
    values are validated first (validate_stored_hash): the variant is all that is read."""
    return classify_hash(stored) != "ARGON2" or not _split(stored.strip())[1].startswith("$argon2id$")


def _make_salted(scheme: str, plain: str, salt: bytes | None, default_salt_len: int) -> str:
    salt = secrets.token_bytes(default_salt_len) if salt is None else salt
    if not salt:
        raise ValueError("salt must not be empty")
    digest = _DIGEST[scheme](plain.encode("utf-8") + salt).digest()
    return f"{{{scheme}}}" + base64.b64encode(digest + salt).decode("ascii")


def make_ssha(plain: str, salt: bytes | None = None) -> str:
    """A legacy ``{SSHA}`` hash (SHA-1 of password + salt, then the salt; base64)."""
    return _make_salted("SSHA", plain, salt, 8)


def make_ssha512(plain: str, salt: bytes | None = None) -> str:
    """A legacy ``{SSHA512}`` hash (SHA-512 of password + salt, then the salt; base64)."""
    return _make_salted("SSHA512", plain, salt, 16)
