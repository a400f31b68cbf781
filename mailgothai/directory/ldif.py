"""Writing entries as LDIF (RFC 2849) for offline loading with slapadd."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping

from mailgothai.directory.gateway import encode_values

_SAFE_INIT_EXCLUDED = {" ", ":", "<"}


def _is_safe(value: str) -> bool:
    if not value:
        return True
    if value[0] in _SAFE_INIT_EXCLUDED or value[-1] == " ":
        return False
    return all(32 <= ord(ch) < 127 for ch in value)


def _line(name: str, value: str) -> str:
    if _is_safe(value):
        return f"{name}: {value}\n"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}\n"


def entry_ldif(dn: str, object_classes: Iterable[str], attributes: Mapping[str, object]) -> str:
    """One entry; empty values (None, "", ()) are left out, as the directory layer does."""
    out = [_line("dn", dn)]
    out.extend(_line("objectClass", oc) for oc in object_classes)
    for name, values in encode_values(attributes).items():
        out.extend(_line(name, v) for v in values)
    return "".join(out) + "\n"
