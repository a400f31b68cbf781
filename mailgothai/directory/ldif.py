"""Writing entries as LDIF (RFC 2849) for offline loading with slapadd."""

from __future__ import annotations

import base64

from mailgothai.directory.entries import NewEntry

_SAFE_INIT_EXCLUDED = {" ", ":", "<"}


def _is_safe(value: str) -> bool:
    if not value:
        return True
    if value[0] in _SAFE_INIT_EXCLUDED or value[-1] == " ":
        return False
    # printable ASCII, 32-126 (as all(32 <= ord(ch) < 127), without a Python step per character)
    return value.isascii() and value.isprintable()


def _line(name: str, value: str) -> str:
    if _is_safe(value):
        return f"{name}: {value}\n"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}\n"


def entry_ldif(entry: NewEntry) -> str:
    """One entry, with the values an add would send (entries.NewEntry.values)."""
    out = [_line("dn", entry.dn)]
    for name, values in entry.values().items():
        out.extend(_line(name, v) for v in values)
    return "".join(out) + "\n"
