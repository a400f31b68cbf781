"""E-mail addresses and domain names: validation and the one normal form the service stores.

Domains are stored in their ASCII form (IDNA 2008 A-labels, ``xn--…``), lower case.
Addresses are ``local@domain`` with a lower-cased dot-atom local part (RFC 5322) and a
normalized domain. Quoted local parts and non-ASCII local parts (SMTPUTF8) are refused.
Every failure raises :class:`~mailgothai.errors.InvalidInput` with a reason a person can act on.
"""

from __future__ import annotations

import re
import unicodedata

import idna

from mailgothai.errors import InvalidInput

MAX_DOMAIN_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_LOCAL_LENGTH = 64
MAX_ADDRESS_LENGTH = 254  # RFC 5321 path (256) minus the angle brackets

_LDH = re.compile(r"[a-z0-9-]+", re.ASCII)
# RFC 5322 atext (dots are checked separately)
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")
_LIST_SEPARATORS = re.compile(r"[;,]")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def _has_space(text: str) -> bool:
    return any(c.isspace() for c in text)


def _check_text(text: str, field: str, what: str) -> str:
    """Strip; refuse empty text, control characters and inner white space."""
    if not isinstance(text, str):
        raise InvalidInput(field, f"{what} must be text")
    value = text.strip()
    if not value:
        raise InvalidInput(field, f"{what} is empty")
    if value.isprintable() and " " not in value:  # every control and space character is unprintable but " "
        return value
    if _has_control(value):
        raise InvalidInput(field, f"{what} contains a control character")
    if _has_space(value):
        raise InvalidInput(field, f"{what} contains a space")
    return value


def _to_alabel(label: str, field: str) -> str:
    """One non-ASCII label (already UTS 46 mapped) as its xn-- A-label."""
    try:
        idna.check_label(label)
        return "xn--" + label.encode("punycode").decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidInput(field, f"domain label {label!r} is not a valid internationalized label ({exc})") from None


def _check_ascii_label(label: str, field: str) -> None:
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidInput(field, f"domain label longer than {MAX_LABEL_LENGTH} characters")
    if not _LDH.fullmatch(label):
        bad = next(c for c in label if not (c.isascii() and (c.isalnum() or c == "-")))
        raise InvalidInput(
            field, f"domain contains an invalid character {bad!r} (only letters, digits and '-' are allowed)"
        )
    if label.startswith("-") or label.endswith("-"):
        raise InvalidInput(field, f"domain label {label!r} starts or ends with a hyphen")
    if label.startswith("xn--"):
        try:
            idna.ulabel(label)
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidInput(field, f"domain label {label!r} is not a valid IDNA A-label ({exc})") from None


def normalize_domain(text: str, field: str = "domain") -> str:
    """The stored form of a domain name: lower case, ASCII (A-labels), validated."""
    value = _check_text(text, field, "domain")
    if value.endswith("."):
        raise InvalidInput(field, "domain ends with a dot")
    if value.startswith("."):
        raise InvalidInput(field, "domain starts with a dot")
    if not value.isascii():
        try:  # maps case, full-width forms and the ideographic full stop "。"
            value = idna.uts46_remap(value, std3_rules=True, transitional=False)
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidInput(field, f"domain is not a valid internationalized name ({exc})") from None
        if value.endswith(".") or value.startswith("."):
            raise InvalidInput(field, "domain starts or ends with a dot")
    labels = value.lower().split(".")
    if any(not label for label in labels):
        raise InvalidInput(field, "domain has an empty label (two dots in a row)")
    if len(labels) < 2:
        raise InvalidInput(field, "domain needs at least two labels (e.g. agency.go.th)")
    out = []
    for label in labels:
        if not label.isascii():
            label = _to_alabel(label, field)
        _check_ascii_label(label, field)
        out.append(label)
    if out[-1].isdigit():
        raise InvalidInput(field, "domain's last label is all digits (an IP address is not a domain)")
    result = ".".join(out)
    if len(result) > MAX_DOMAIN_LENGTH:
        raise InvalidInput(field, f"domain longer than {MAX_DOMAIN_LENGTH} characters")
    return result


def _check_local(local: str, field: str) -> None:
    if not local.isascii():
        raise InvalidInput(field, "non-ASCII characters in the local part are not supported")
    if len(local) > MAX_LOCAL_LENGTH:
        raise InvalidInput(field, f"local part longer than {MAX_LOCAL_LENGTH} characters")
    if local.startswith("."):
        raise InvalidInput(field, "local part starts with a dot")
    if local.endswith("."):
        raise InvalidInput(field, "local part ends with a dot")
    if ".." in local:
        raise InvalidInput(field, "local part has two dots in a row")
    for c in local:
        if c != "." and c not in _ATEXT:
            raise InvalidInput(field, f"local part contains an invalid character {c!r}")


def normalize_address(text: str, field: str = "email") -> str:
    """The stored form of an address: ``local@domain``, local part lower-cased, domain normalized."""
    if isinstance(text, str) and text.strip().startswith('"'):
        raise InvalidInput(field, "quoted local parts are not accepted")
    value = _check_text(text, field, "address")
    ats = value.count("@")
    if ats == 0:
        raise InvalidInput(field, "missing '@'")
    if ats > 1:
        raise InvalidInput(field, "more than one '@'")
    local, _, domain = value.partition("@")
    if not local:
        raise InvalidInput(field, "nothing before the '@'")
    if not domain:
        raise InvalidInput(field, "nothing after the '@'")
    if '"' in local:
        raise InvalidInput(field, "quoted local parts are not accepted")
    _check_local(local, field)
    result = f"{local.lower()}@{normalize_domain(domain, field)}"
    if len(result) > MAX_ADDRESS_LENGTH:
        raise InvalidInput(field, f"address longer than {MAX_ADDRESS_LENGTH} characters")
    return result


def split_address(addr: str) -> tuple[str, str]:
    """``(local, domain)`` of an already normalized address."""
    local, sep, domain = addr.rpartition("@")
    if not sep or not local or not domain:
        raise InvalidInput("email", f"not an address: {addr!r}")
    return local, domain


def parse_address_list(text: str, field: str) -> tuple[str, ...]:
    """Addresses separated by ';' or ',', normalized, blanks skipped, duplicates dropped (order kept)."""
    if not text:
        return ()
    seen: dict[str, None] = {}
    for item in _LIST_SEPARATORS.split(text):
        item = item.strip()
        if not item:
            continue
        try:
            seen.setdefault(normalize_address(item, field))
        except InvalidInput as exc:
            raise InvalidInput(field, f"{item!r}: {exc.reason}") from None
    return tuple(seen)
