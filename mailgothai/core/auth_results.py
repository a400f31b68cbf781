"""Authentication-Results fields (RFC 8601) that claim to be this relay's own.

A reader's mail program trusts the results of its own border MTA, found by the
authserv-id. Section 5: a border MTA removes any such field that arrives claiming its
authserv-id (it cannot have written it), before adding its own. No I/O.
"""

from __future__ import annotations

NAME = b"authentication-results"
_DELIMITERS = b" \t\r\n;("


def authserv_id(raw_field: bytes) -> str | None:
    """The authserv-id of one raw (possibly folded) Authentication-Results field, lower
    case: the first `value` after the colon, past RFC 5322 comments and white space, a
    quoted-string unquoted. None when there is none."""
    value = raw_field.split(b":", 1)[1] if b":" in raw_field else b""
    i = _skip_cfws(value, 0)
    if i >= len(value):
        return None
    if value[i:i + 1] == b'"':
        out = bytearray()
        i += 1
        while i < len(value) and value[i:i + 1] != b'"':
            if value[i:i + 1] == b"\\" and i + 1 < len(value):
                i += 1
            out += value[i:i + 1]
            i += 1
        token = bytes(out)
    else:
        start = i
        while i < len(value) and value[i] not in _DELIMITERS:
            i += 1
        token = value[start:i]
    text = token.replace(b"\r\n", b"").decode("utf-8", "replace").strip().lower()
    return text or None


def _skip_cfws(value: bytes, i: int) -> int:
    """Past white space, folds and (nested, quoted-pair holding) comments."""
    depth = 0
    while i < len(value):
        c = value[i:i + 1]
        if depth:
            if c == b"\\":
                i += 1
            elif c == b"(":
                depth += 1
            elif c == b")":
                depth -= 1
        elif c == b"(":
            depth = 1
        elif c not in (b" ", b"\t", b"\r", b"\n"):
            return i
        i += 1
    return i


def without_own_results(message: bytes, own_id: str) -> bytes:
    """`message` (CRLF) without the Authentication-Results fields whose authserv-id is
    `own_id` (compared case-insensitively); everything else byte for byte as it came."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if NAME not in head.lower():
        return message  # the usual case: nothing to look at, no copy
    return _drop_fields(head.split(b"\r\n"), own_id.strip().lower()) + sep + body


def _drop_fields(lines: list[bytes], own: str) -> bytes:
    """Joins header lines again, leaving out the Authentication-Results fields of `own`."""
    fields: list[list[bytes]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    out = []
    for field in fields:
        raw = b"\r\n".join(field)
        if raw.split(b":", 1)[0].strip().lower() == NAME and b":" in raw and authserv_id(raw) == own:
            continue
        out.append(raw)
    return b"\r\n".join(out)
