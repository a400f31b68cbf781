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

from mailgothai.core.reasons import Why
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


_TEXT_REASONS = {  # what: (not text, empty, a control character, a space)
    "address": (Why.ADDRESS_NOT_TEXT, Why.ADDRESS_EMPTY, Why.ADDRESS_CONTROL_CHARACTER, Why.ADDRESS_SPACE),
    "domain": (Why.DOMAIN_NOT_TEXT, Why.DOMAIN_EMPTY, Why.DOMAIN_CONTROL_CHARACTER, Why.DOMAIN_SPACE),
}


def _check_text(text: str, field: str, what: str) -> str:
    """Strip; refuse empty text, control characters and inner white space."""
    not_text, empty, control, space = _TEXT_REASONS[what]
    if not isinstance(text, str):
        raise InvalidInput(field, not_text())
    value = text.strip()
    if not value:
        raise InvalidInput(field, empty())
    if value.isprintable() and " " not in value:  # every control and space character is unprintable but " "
        return value
    if _has_control(value):
        raise InvalidInput(field, control())
    if _has_space(value):
        raise InvalidInput(field, space())
    return value


def _to_alabel(label: str, field: str) -> str:
    """One non-ASCII label (already UTS 46 mapped) as its xn-- A-label."""
    try:
        idna.check_label(label)
        return "xn--" + label.encode("punycode").decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidInput(field, Why.DOMAIN_LABEL_NOT_IDN(label=repr(label), detail=str(exc))) from None


def _check_ascii_label(label: str, field: str) -> None:
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidInput(field, Why.DOMAIN_LABEL_TOO_LONG(max=MAX_LABEL_LENGTH))
    if not _LDH.fullmatch(label):
        bad = next(c for c in label if not (c.isascii() and (c.isalnum() or c == "-")))
        raise InvalidInput(field, Why.DOMAIN_INVALID_CHARACTER(char=repr(bad)))
    if label.startswith("-") or label.endswith("-"):
        raise InvalidInput(field, Why.DOMAIN_LABEL_HYPHEN(label=repr(label)))
    if label.startswith("xn--"):
        try:
            idna.ulabel(label)
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidInput(field, Why.DOMAIN_LABEL_NOT_A_LABEL(label=repr(label), detail=str(exc))) from None


def normalize_domain(text: str, field: str = "domain") -> str:
    """The stored form of a domain name: lower case, ASCII (A-labels), validated."""
    value = _check_text(text, field, "domain")
    if value.endswith("."):
        raise InvalidInput(field, Why.DOMAIN_ENDS_WITH_DOT())
    if value.startswith("."):
        raise InvalidInput(field, Why.DOMAIN_STARTS_WITH_DOT())
    if not value.isascii():
        try:  # maps case, full-width forms and the ideographic full stop "。"
            value = idna.uts46_remap(value, std3_rules=True, transitional=False)
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidInput(field, Why.DOMAIN_NOT_IDN(detail=str(exc))) from None
        if value.endswith(".") or value.startswith("."):
            raise InvalidInput(field, Why.DOMAIN_DOT_AT_EDGE())
    labels = value.lower().split(".")
    if any(not label for label in labels):
        raise InvalidInput(field, Why.DOMAIN_EMPTY_LABEL())
    if len(labels) < 2:
        raise InvalidInput(field, Why.DOMAIN_ONE_LABEL())
    out = []
    for label in labels:
        if not label.isascii():
            label = _to_alabel(label, field)
        _check_ascii_label(label, field)
        out.append(label)
    if out[-1].isdigit():
        raise InvalidInput(field, Why.DOMAIN_NUMERIC_TOP())
    result = ".".join(out)
    if len(result) > MAX_DOMAIN_LENGTH:
        raise InvalidInput(field, Why.DOMAIN_TOO_LONG(max=MAX_DOMAIN_LENGTH))
    return result


def _check_local(local: str, field: str) -> None:
    if not local.isascii():
        raise InvalidInput(field, Why.LOCAL_NON_ASCII())
    if len(local) > MAX_LOCAL_LENGTH:
        raise InvalidInput(field, Why.LOCAL_TOO_LONG(max=MAX_LOCAL_LENGTH))
    if local.startswith("."):
        raise InvalidInput(field, Why.LOCAL_STARTS_WITH_DOT())
    if local.endswith("."):
        raise InvalidInput(field, Why.LOCAL_ENDS_WITH_DOT())
    if ".." in local:
        raise InvalidInput(field, Why.LOCAL_TWO_DOTS())
    for c in local:
        if c != "." and c not in _ATEXT:
            raise InvalidInput(field, Why.LOCAL_INVALID_CHARACTER(char=repr(c)))


def normalize_address(text: str, field: str = "email") -> str:
    """The stored form of an address: ``local@domain``, local part lower-cased, domain normalized."""
    if isinstance(text, str) and text.strip().startswith('"'):
        raise InvalidInput(field, Why.LOCAL_QUOTED())
    value = _check_text(text, field, "address")
    ats = value.count("@")
    if ats == 0:
        raise InvalidInput(field, Why.AT_MISSING())
    if ats > 1:
        raise InvalidInput(field, Why.AT_TWICE())
    local, _, domain = value.partition("@")
    if not local:
        raise InvalidInput(field, Why.AT_NOTHING_BEFORE())
    if not domain:
        raise InvalidInput(field, Why.AT_NOTHING_AFTER())
    if '"' in local:
        raise InvalidInput(field, Why.LOCAL_QUOTED())
    _check_local(local, field)
    result = f"{local.lower()}@{normalize_domain(domain, field)}"
    if len(result) > MAX_ADDRESS_LENGTH:
        raise InvalidInput(field, Why.ADDRESS_TOO_LONG(max=MAX_ADDRESS_LENGTH))
    return result


def address_in(local: str, domain: str) -> str:
    """The address a form's or the API's `local_part` names in `domain` (the part before
    the @ only; the address itself is checked where it is used)."""
    local = local.strip()
    if not local or "@" in local:
        raise InvalidInput("local_part", Why.LOCAL_PART_ONLY())
    return f"{local}@{domain}"


def split_address(addr: str) -> tuple[str, str]:
    """``(local, domain)`` of an already normalized address."""
    local, sep, domain = addr.rpartition("@")
    if not sep or not local or not domain:
        raise InvalidInput("email", Why.NOT_AN_ADDRESS(value=repr(addr)))
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
            raise InvalidInput(field, Why.ITEM_REFUSED(item=repr(item), reason=exc.why)) from None
    return tuple(seen)
