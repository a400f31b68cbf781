"""LDAP messages as BER bytes, where ldap3's general encoder and decoder cost too much:
search result entries decoded once for bulk reads, and the importer's add requests.

ldap3 decodes every message with its general BER decoder into nested tuples, then builds
two dictionaries per entry (the raw values, and every value decoded again to text through
its configuration lookups). Reading a whole directory (an export, the dry run of a full
import) spent most of its time there: reading all 207,074 accounts cost 17.3 s of CPU
here against slapd's 1.7 s; decoded as below, 3.6 s.

`taking_entries(conn, sink)` lets ldap3 send the search and handle every other message
(the final result with its paged-results cookie, referrals, errors), but takes the
SearchResultEntry messages out of what ldap3 receives and decodes each into
(DN, {lower-cased attribute name: raw values}), what `gateway._entry` makes of ldap3's
own decoding. tests/importer/test_bulk_reads.py compares the two on real entries.

Relies on ldap3 2.9's SyncStrategy: `receiving()` returns the complete LDAP messages read
from the socket and `_get_response` decodes them. Any other strategy keeps ldap3's path.

`add_request`/`extended_request` encode what directory/batch.py sends in an LDAP
transaction, and `result_of` reads the answers (tests/unit/test_wire_encoding.py checks
the bytes against ldap3's own encoding). The values of the sort and VLV controls of the
listings (directory/vlv.py) are encoded and read here too: this module is the project's
one BER encoder and decoder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import ldap3
from ldap3.strategy.sync import SyncStrategy

SEARCH_RESULT_ENTRY = 0x64  # [APPLICATION 4], constructed
Decoded = tuple[str, dict[str, list[bytes]]]


def _length(data: bytes, i: int) -> tuple[int, int]:
    """A BER definite length at data[i]: (length, index of the value)."""
    n = data[i]
    if n < 0x80:
        return n, i + 1
    k = n & 0x7F
    return int.from_bytes(data[i + 1:i + 1 + k], "big"), i + 1 + k


def entry_of(message: bytes) -> Decoded | None:
    """The entry of one SearchResultEntry LDAPMessage; None for any other message.

    LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp, controls [0] OPTIONAL }
    SearchResultEntry ::= [APPLICATION 4] SEQUENCE { objectName OCTET STRING,
        attributes SEQUENCE OF SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING } }
    Each step below skips one tag byte (i + 1) and reads the length after it."""
    _, i = _length(message, 1)  # the LDAPMessage sequence
    n, i = _length(message, i + 1)  # messageID
    i += n
    if message[i] != SEARCH_RESULT_ENTRY:
        return None
    _, i = _length(message, i + 1)
    n, i = _length(message, i + 1)  # objectName
    dn = message[i:i + n].decode("utf-8")
    i += n
    n, i = _length(message, i + 1)  # the attribute list
    stop = i + n
    attrs: dict[str, list[bytes]] = {}
    while i < stop:
        _, i = _length(message, i + 1)  # one attribute
        n, i = _length(message, i + 1)  # its type
        name = message[i:i + n].decode("utf-8").lower()
        i += n
        n, i = _length(message, i + 1)  # its values
        end = i + n
        values = []
        while i < end:
            n, i = _length(message, i + 1)
            values.append(message[i:i + n])
            i += n
        attrs[name] = values
    return dn, attrs


@contextlib.contextmanager
def taking_entries(conn: ldap3.Connection, sink: list[Decoded]) -> Iterator[None]:
    """While inside, the search entries `conn` receives are decoded into `sink` instead of
    `conn.response` (one operation at a time on the connection, as the gateway's are)."""
    strategy = conn.strategy
    if type(strategy) is not SyncStrategy:
        yield
        return
    receive: Callable[[], list[bytes]] = strategy.receiving

    def receiving() -> list[bytes]:
        while True:
            messages = receive()
            others = []
            for message in messages:
                entry = entry_of(message)
                if entry is None:
                    others.append(message)
                else:
                    sink.append(entry)
            if others or not messages:  # ldap3 waits for more as long as it gets messages
                return others

    strategy.receiving = receiving  # type: ignore[method-assign]
    try:
        yield
    finally:
        del strategy.receiving


# ---- writing: add requests, extended requests, and the results that answer them ---------
# ldap3 builds every request as pyasn1 objects and encodes them with pyasn1's general
# encoder: ~2 ms of CPU per account add here, more than slapd spends adding it inside a
# transaction (directory/batch.py). The importer's adds are encoded below instead: the
# same bytes as ldap3's, but for TRUE, written 0xFF as RFC 4511 (section 5.1) asks where
# pyasn1 writes 0x01 (tests/unit/test_wire_encoding.py compares them).

SEARCH_REQUEST = 0x63  # [APPLICATION 3], constructed
SEARCH_RESULT_DONE = 0x65  # [APPLICATION 5]
SEARCH_RESULT_REFERENCE = 0x73  # [APPLICATION 19]
ADD_REQUEST = 0x68  # [APPLICATION 8], constructed
ADD_RESPONSE = 0x69  # [APPLICATION 9]
EXTENDED_REQUEST = 0x77  # [APPLICATION 23]
EXTENDED_RESPONSE = 0x78  # [APPLICATION 24]
_RESPONSE_VALUE = 0x8B  # [11] in an ExtendedResponse
Control = tuple[str, bool, "bytes | None"]


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes((tag, n)) + value
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + value


def _integer(value: int, tag: int = 0x02) -> bytes:
    return _tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _boolean(value: bool, tag: int = 0x01) -> bytes:
    return _tlv(tag, b"\xff" if value else b"\x00")


def _controls(controls: Sequence[Control]) -> bytes:
    """Controls ::= [0] SEQUENCE OF SEQUENCE { controlType, criticality DEFAULT FALSE, controlValue OPTIONAL }"""
    out = []
    for oid, critical, value in controls:
        body = _tlv(0x04, oid.encode("ascii")) + (_boolean(True) if critical else b"")
        if value is not None:
            body += _tlv(0x04, value)
        out.append(_tlv(0x30, body))
    return _tlv(0xA0, b"".join(out))


def _message(message_id: int, operation: bytes, controls: Sequence[Control]) -> bytes:
    return _tlv(0x30, _integer(message_id) + operation + (_controls(controls) if controls else b""))


def add_request(message_id: int, dn: str, attributes: dict[str, list[str]],
                controls: Sequence[Control] = ()) -> bytes:
    """LDAPMessage { messageID, AddRequest ::= [APPLICATION 8] SEQUENCE { entry LDAPDN,
    attributes SEQUENCE OF SEQUENCE { type, vals SET OF value } }, controls }.
    Values are given as text (encoded UTF-8), as Gateway.add takes them."""
    parts = []
    for name, values in attributes.items():
        vals = b"".join(_tlv(0x04, v.encode("utf-8")) for v in values)
        parts.append(_tlv(0x30, _tlv(0x04, name.encode("utf-8")) + _tlv(0x31, vals)))
    body = _tlv(0x04, dn.encode("utf-8")) + _tlv(0x30, b"".join(parts))
    return _message(message_id, _tlv(ADD_REQUEST, body), controls)


def extended_request(message_id: int, oid: str, value: bytes | None = None,
                     controls: Sequence[Control] = ()) -> bytes:
    """ExtendedRequest ::= [APPLICATION 23] SEQUENCE { requestName [0], requestValue [1] OPTIONAL }"""
    body = _tlv(0x80, oid.encode("ascii")) + (_tlv(0x81, value) if value is not None else b"")
    return _message(message_id, _tlv(EXTENDED_REQUEST, body), controls)


def equality_filter(attribute: str, value: str) -> bytes:
    """Filter equalityMatch [3] { attributeDesc, assertionValue }. The value goes in as
    bytes: nothing in it can change the filter's meaning, so there is nothing to escape."""
    return _tlv(0xA3, _tlv(0x04, attribute.encode("utf-8")) + _tlv(0x04, value.encode("utf-8")))


def any_filter(filters: list[bytes]) -> bytes:
    """Filter or [1] SET OF Filter (a single filter stands alone, as escaping.any_of does)."""
    return filters[0] if len(filters) == 1 else _tlv(0xA1, b"".join(filters))


def search_request(message_id: int, base: str, search_filter: bytes, attributes: list[str],
                   controls: Sequence[Control] = ()) -> bytes:
    """SearchRequest ::= [APPLICATION 3] SEQUENCE { baseObject, scope wholeSubtree,
    derefAliases neverDerefAliases, sizeLimit 0, timeLimit 0, typesOnly FALSE, filter,
    attributes }"""
    body = (_tlv(0x04, base.encode("utf-8")) + b"\x0a\x01\x02\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00"
            + search_filter + _tlv(0x30, b"".join(_tlv(0x04, a.encode("utf-8")) for a in attributes)))
    return _message(message_id, _tlv(SEARCH_REQUEST, body), controls)


@dataclass(frozen=True)
class Result:
    """The LDAPResult of one response: which request it answers, and how."""

    message_id: int
    operation: int  # the response's tag, e.g. ADD_RESPONSE
    code: int  # resultCode (0 = success)
    diagnostic: str
    value: bytes | None = None  # an ExtendedResponse's responseValue


def result_of(message: bytes) -> Result:
    """Decode an LDAPMessage carrying an LDAPResult (add, extended, search done responses)."""
    _, i = _length(message, 1)  # the LDAPMessage sequence
    n, i = _length(message, i + 1)  # messageID
    message_id = int.from_bytes(message[i:i + n], "big", signed=True)
    i += n
    operation = message[i]
    length, i = _length(message, i + 1)
    stop = i + length
    n, i = _length(message, i + 1)  # resultCode (ENUMERATED)
    code = int.from_bytes(message[i:i + n], "big")
    i += n
    n, i = _length(message, i + 1)  # matchedDN
    i += n
    n, i = _length(message, i + 1)  # diagnosticMessage
    diagnostic = message[i:i + n].decode("utf-8", "replace")
    i += n
    value = None
    while i < stop:  # referral [3], responseName [10], responseValue [11]
        tag = message[i]
        n, i = _length(message, i + 1)
        if tag == _RESPONSE_VALUE:
            value = message[i:i + n]
        i += n
    return Result(message_id, operation, code, diagnostic, value)


def header_of(message: bytes) -> tuple[int, int]:
    """(messageID, the tag of its protocolOp) of an LDAPMessage."""
    _, i = _length(message, 1)
    n, i = _length(message, i + 1)
    return int.from_bytes(message[i:i + n], "big", signed=True), message[i + n]


def first_integer(value: bytes) -> int | None:
    """The INTEGER opening a SEQUENCE (an End Transaction response names the message that
    failed this way, RFC 5805 section 2.3); None if there is none."""
    if len(value) < 2 or value[0] != 0x30:
        return None
    _, i = _length(value, 1)
    if i >= len(value) or value[i] != 0x02:
        return None
    n, i = _length(value, i + 1)
    return int.from_bytes(value[i:i + n], "big", signed=True)


def components(value: bytes) -> list[tuple[int, bytes]]:
    """The (tag, contents) of each element of the constructed value `value` (one TLV, e.g.
    a SEQUENCE): one level deep, definite lengths, single-byte tags (all LDAP uses)."""
    _, i = _length(value, 1)
    out = []
    while i < len(value):
        tag = value[i]
        n, i = _length(value, i + 1)
        out.append((tag, value[i:i + n]))
        i += n
    return out


# ---- the values of the listings' controls (directory/vlv.py) --------------------------
def sort_request_value(keys: Sequence[tuple[str, str, bool]]) -> bytes:
    """Server-side sort (RFC 2891): SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType
    OCTET STRING, orderingRule [0] OCTET STRING OPTIONAL, reverseOrder [1] BOOLEAN DEFAULT
    FALSE }, from (attribute, ordering rule or "", reverse) per key."""
    out = []
    for attribute, ordering_rule, reverse in keys:
        body = _tlv(0x04, attribute.encode("utf-8"))
        if ordering_rule:
            body += _tlv(0x80, ordering_rule.encode("utf-8"))
        if reverse:
            body += _boolean(True, 0x81)
        out.append(_tlv(0x30, body))
    return _tlv(0x30, b"".join(out))


def vlv_request_value(before: int, after: int, offset: int, content_count: int, context_id: bytes | None) -> bytes:
    """VirtualListViewRequest ::= SEQUENCE { beforeCount INTEGER, afterCount INTEGER,
    target CHOICE { byOffset [0] SEQUENCE { offset INTEGER, contentCount INTEGER }, ... },
    contextID OCTET STRING OPTIONAL } (draft-ietf-ldapext-ldapv3-vlv), by offset."""
    target = _tlv(0xA0, _integer(offset) + _integer(content_count))
    return _tlv(0x30, _integer(before) + _integer(after) + target
                + (_tlv(0x04, context_id) if context_id else b""))


def vlv_response_value(value: bytes) -> tuple[int, int, int, bytes | None]:
    """VirtualListViewResponse ::= SEQUENCE { targetPosition INTEGER, contentCount INTEGER,
    virtualListViewResult ENUMERATED, contextID OCTET STRING OPTIONAL }: (position, count,
    result, context ID or None)."""
    parts = components(value)
    if len(parts) < 3 or [tag for tag, _ in parts[:3]] != [0x02, 0x02, 0x0A]:
        raise ValueError(f"not a VLV response: {value.hex()}")
    position, count, result = (int.from_bytes(contents, "big", signed=True) for _, contents in parts[:3])
    context = parts[3][1] if len(parts) > 3 and parts[3][0] == 0x04 else None
    return position, count, result, context
