"""The one place every LDAP filter and DN is built. Values are always escaped;
attribute names are the project's own constants and are checked, never escaped."""

from __future__ import annotations

import re

from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

_ATTR = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(:[A-Za-z0-9.-]+)?$")


def _attr(name: str) -> str:
    if not _ATTR.match(name):
        raise ValueError(f"not an attribute name: {name!r}")
    return name


def value(text: str) -> str:
    """A value escaped for use inside a filter (RFC 4515: * ( ) \\ NUL)."""
    return escape_filter_chars(text)


def eq(attr: str, text: str) -> str:
    return f"({_attr(attr)}={value(text)})"


def prefix(attr: str, text: str) -> str:
    return f"({_attr(attr)}={value(text)}*)"


def contains(attr: str, text: str) -> str:
    return f"({_attr(attr)}=*{value(text)}*)"


def present(attr: str) -> str:
    return f"({_attr(attr)}=*)"


def all_of(*filters: str) -> str:
    return filters[0] if len(filters) == 1 else "(&" + "".join(filters) + ")"


def any_of(*filters: str) -> str:
    return filters[0] if len(filters) == 1 else "(|" + "".join(filters) + ")"


def rdn(attr: str, text: str) -> str:
    """One RDN with its value escaped (RFC 4514: , + " \\ < > ; = leading # and spaces)."""
    return f"{_attr(attr)}={escape_rdn(text)}"


def dn(*parts: str) -> str:
    """Join RDNs (already built with rdn()) and a base DN."""
    return ",".join(parts)
