"""Sorted windows of a large listing, computed by slapd (server-side sort, RFC 2891,
with the virtual list view control, draft-ietf-ldapext-ldapv3-vlv).

slapd's sssvlv overlay sorts the whole result set once and keeps it on the connection
under a context ID; later windows that send that ID back cost only the entries of the
window. So a context lives on a connection of its own, kept between requests and keyed
by what it lists (base, filter, sort, acting identity). A context is dropped when its
`stamp` (a value the caller derives from the data, e.g. the domain's counters and the
newest audit record) changes, after `ttl` seconds, or when the cache is full (oldest
first): it then costs one full sort again.

Sort keys need ORDERING rules: `mail` and `cn` have none in the standard schema, so the
keys name one (`mail:caseIgnoreOrderingMatch`). See STACK-NOTES.md.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import ldap3
from ldap3.core import exceptions as lx
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import namedtype, tag, univ

from mailgothai.directory.gateway import COMMUNICATION_ERRORS, Entry, Gateway, discard, map_error
from mailgothai.errors import DirectoryError

SORT_REQUEST_OID = "1.2.840.113556.1.4.473"
SORT_RESPONSE_OID = "1.2.840.113556.1.4.474"
VLV_REQUEST_OID = "2.16.840.1.113730.3.4.9"
VLV_RESPONSE_OID = "2.16.840.1.113730.3.4.10"


# ---- ASN.1 of the two controls ------------------------------------------------------
class _SortKey(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("attributeType", univ.OctetString()),
        namedtype.OptionalNamedType("orderingRule", univ.OctetString().subtype(
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 0))),
        namedtype.DefaultedNamedType("reverseOrder", univ.Boolean(False).subtype(
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 1))),
    )


class _SortKeyList(univ.SequenceOf):
    componentType = _SortKey()


class _ByOffset(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagImplicitly(tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0))
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("offset", univ.Integer()),
        namedtype.NamedType("contentCount", univ.Integer()),
    )


class _Target(univ.Choice):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("byOffset", _ByOffset()),
        namedtype.NamedType("greaterThanOrEqual", univ.OctetString().subtype(
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, 1))),
    )


class _VlvRequest(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("beforeCount", univ.Integer()),
        namedtype.NamedType("afterCount", univ.Integer()),
        namedtype.NamedType("target", _Target()),
        namedtype.OptionalNamedType("contextID", univ.OctetString()),
    )


class _VlvResponse(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("targetPosition", univ.Integer()),
        namedtype.NamedType("contentCount", univ.Integer()),
        namedtype.NamedType("virtualListViewResult", univ.Enumerated()),
        namedtype.OptionalNamedType("contextID", univ.OctetString()),
    )


@dataclass(frozen=True)
class SortKey:
    attribute: str
    ordering_rule: str = ""
    reverse: bool = False


def sort_control(keys: Sequence[SortKey]) -> tuple[str, bool, bytes]:
    value = _SortKeyList()
    for i, key in enumerate(keys):
        item = _SortKey()
        item["attributeType"] = key.attribute
        if key.ordering_rule:
            item["orderingRule"] = key.ordering_rule
        if key.reverse:
            item["reverseOrder"] = True
        value.setComponentByPosition(i, item)
    return SORT_REQUEST_OID, True, encoder.encode(value)


def vlv_control(offset: int, after: int, content_count: int, context_id: bytes | None) -> tuple[str, bool, bytes]:
    """A window of after + 1 entries starting at 1-based position `offset`."""
    value = _VlvRequest()
    value["beforeCount"] = 0
    value["afterCount"] = after
    target = _Target()
    by_offset = target.getComponentByName("byOffset")
    by_offset["offset"] = offset
    by_offset["contentCount"] = content_count
    value["target"] = target
    if context_id:
        value["contextID"] = context_id
    return VLV_REQUEST_OID, True, encoder.encode(value)


@dataclass(frozen=True)
class VlvResult:
    position: int
    total: int
    result: int
    context_id: bytes | None


def parse_vlv_response(raw: bytes) -> VlvResult:
    decoded, _ = decoder.decode(raw, asn1Spec=_VlvResponse())
    context = decoded.getComponentByName("contextID")
    return VlvResult(int(decoded["targetPosition"]), int(decoded["contentCount"]),
                     int(decoded["virtualListViewResult"]),
                     bytes(context) if context.isValue else None)


# ---- the listing cache --------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    entries: list[Entry]
    offset: int  # 0-based position of the first entry in the whole sorted list
    total: int  # entries in the whole list (slapd's count)


@dataclass
class _Context:
    conn: ldap3.Connection
    stamp: object
    created: float
    context_id: bytes | None = None
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Unbind and close, also when slapd has gone (unbind alone then leaves the socket)."""
        if self.conn is not None:
            discard(self.conn)


class SortedLister:
    """Sorted windows of listings, with slapd's sort contexts kept between calls."""

    def __init__(self, max_contexts: int = 12, ttl: float = 120.0) -> None:
        self._contexts: OrderedDict[tuple[object, ...], _Context] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_contexts
        self._ttl = ttl

    def close(self) -> None:
        with self._lock:
            contexts, self._contexts = list(self._contexts.values()), OrderedDict()
        for ctx in contexts:
            ctx.close()

    def _take(self, key: tuple[object, ...], gateway: Gateway, stamp: object) -> _Context:
        now = time.monotonic()
        stale: list[_Context] = []
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is not None and (ctx.stamp != stamp or now - ctx.created > self._ttl):
                stale.append(self._contexts.pop(key))
                ctx = None
            if ctx is None:
                ctx = _Context(conn=None, stamp=stamp, created=now)  # type: ignore[arg-type]
                self._contexts[key] = ctx
                while len(self._contexts) > self._max:
                    _, old = self._contexts.popitem(last=False)
                    stale.append(old)
            else:
                self._contexts.move_to_end(key)
        for old in stale:
            with old.lock:  # wait for a request still using it
                if old.conn is not None:
                    old.close()
        return ctx

    def _forget(self, key: tuple[object, ...], ctx: _Context) -> None:
        with self._lock:
            if self._contexts.get(key) is ctx:
                del self._contexts[key]
        if ctx.conn is not None:
            ctx.close()

    def invalidate(self, match: str) -> None:
        """Drop every context whose base DN ends with `match` (after a change there)."""
        with self._lock:
            keys = [k for k in self._contexts if str(k[1]).lower().endswith(match.lower())]
            dropped = [self._contexts.pop(k) for k in keys]
        for ctx in dropped:
            with ctx.lock:
                if ctx.conn is not None:
                    ctx.close()

    def window(self, gateway: Gateway, base: str, search_filter: str, keys: Sequence[SortKey],
               offset: int, size: int, attributes: Sequence[str], stamp: object = None) -> Window:
        """Entries offset .. offset+size-1 (0-based) of the sorted listing."""
        if size < 1:
            raise ValueError("size must be at least 1")
        offset = max(0, offset)
        proxied = tuple(gateway.request_controls)
        key = (proxied, base, search_filter, tuple(keys), tuple(attributes))
        for attempt in (1, 2):
            ctx = self._take(key, gateway, stamp)
            try:
                with ctx.lock:
                    return self._search(ctx, gateway, base, search_filter, keys, offset, size, attributes)
            except _Retry:
                self._forget(key, ctx)
                if attempt == 2:
                    raise DirectoryError("the directory refused the sorted listing twice") from None
            except BaseException:
                self._forget(key, ctx)
                raise
        raise AssertionError("unreachable")

    def _search(self, ctx: _Context, gateway: Gateway, base: str, search_filter: str,
                keys: Sequence[SortKey], offset: int, size: int, attributes: Sequence[str]) -> Window:
        if ctx.conn is None or ctx.conn.closed:
            ctx.conn = gateway.dedicated_connection()
            ctx.context_id = None
        if ctx.context_id is None and offset > 0:
            # slapd answers a first window past the end with an error (76, which ldap3 cannot
            # even decode): sort with a one-entry window at the start, then ask in range.
            self._search(ctx, gateway, base, search_filter, keys, 0, 1, attributes)
        if ctx.context_id is not None and ctx.total and offset >= ctx.total:
            offset = max(0, ctx.total - size)  # past the end: the last window
        controls = [*gateway.request_controls, sort_control(keys),
                    vlv_control(offset + 1, size - 1, ctx.total if ctx.context_id else 0, ctx.context_id)]
        try:
            ctx.conn.search(base, search_filter, ldap3.SUBTREE, attributes=list(attributes), controls=controls)
        except lx.LDAPBusyResult as exc:
            raise _Retry() from exc
        except COMMUNICATION_ERRORS as exc:
            if ctx.context_id is not None:
                raise _Retry() from exc  # a kept connection went away: open a new one
            raise map_error(exc, f"sorted search {search_filter}") from exc
        except lx.LDAPNoSuchObjectResult:
            return Window([], offset, 0)
        except lx.LDAPException as exc:
            raise map_error(exc, f"sorted search {search_filter}") from exc
        raw = ctx.conn.result.get("controls", {}).get(VLV_RESPONSE_OID, {}).get("value")
        if not raw:
            raise DirectoryError("the directory answered a sorted listing without its VLV response "
                                 "(is the sssvlv overlay loaded?)")
        vlv = parse_vlv_response(raw)
        if vlv.result != 0:
            raise _Retry()
        ctx.context_id, ctx.total = vlv.context_id, vlv.total
        entries = [Entry(str(item["dn"]), {str(k).lower(): list(v) for k, v in item["raw_attributes"].items()})
                   for item in ctx.conn.response if item.get("type") == "searchResEntry"]
        return Window(entries, max(0, vlv.position - 1), vlv.total)


class _Retry(Exception):
    """The context is no longer usable: drop it and sort again."""
