"""Sorted windows of a large listing, computed by slapd (server-side sort, RFC 2891,
with the virtual list view control, draft-ietf-ldapext-ldapv3-vlv).

slapd's sssvlv overlay sorts the whole result set once and keeps it on the connection
under a context ID; later windows that send that ID back cost only the entries of the
window. So a context lives on a connection of its own, kept between requests and keyed
by what it lists (base, filter, sort, acting identity). A context is dropped when its
`stamp` (a value the caller derives from the data, e.g. the domain's counters and the
newest audit record) changes, after `ttl` seconds, or when the cache is full (oldest
first): it then costs one full sort again (0.2-1 s for 40,000 accounts). Contexts a
caller asks to keep (the web's listing warmer: the default view of each large domain)
are never evicted for room and live longer, so nobody's first click waits for a sort.

Sort keys need ORDERING rules: `mail` and `cn` have none in the standard schema, so the
keys name one (`mail:caseIgnoreOrderingMatch`). See STACK-NOTES.md.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.directory import wire
from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.pool import discard
from mailgothai.directory.results import COMMUNICATION_ERRORS, map_error
from mailgothai.errors import DirectoryError

SORT_REQUEST_OID = "1.2.840.113556.1.4.473"
SORT_RESPONSE_OID = "1.2.840.113556.1.4.474"
VLV_REQUEST_OID = "2.16.840.1.113730.3.4.9"
VLV_RESPONSE_OID = "2.16.840.1.113730.3.4.10"
# A first window waits for the sort of the whole result set: 0.2-1 s for 40,000 entries,
# several seconds on a loaded machine; longer than the gateway's timeout for a hung server.
SORT_TIMEOUT = 60


@dataclass(frozen=True)
class SortKey:
    attribute: str
    ordering_rule: str = ""
    reverse: bool = False


@functools.lru_cache(maxsize=64)
def _cached_sort_control(keys: tuple[SortKey, ...]) -> tuple[str, bool, bytes]:
    return sort_control(keys)


def sort_control(keys: Sequence[SortKey]) -> tuple[str, bool, bytes]:
    value = wire.sort_request_value([(key.attribute, key.ordering_rule, key.reverse) for key in keys])
    return SORT_REQUEST_OID, True, value


def vlv_control(offset: int, after: int, content_count: int, context_id: bytes | None) -> tuple[str, bool, bytes]:
    """A window of after + 1 entries starting at 1-based position `offset`."""
    return VLV_REQUEST_OID, True, wire.vlv_request_value(0, after, offset, content_count, context_id)


@dataclass(frozen=True)
class VlvResult:
    position: int
    total: int
    result: int
    context_id: bytes | None


def parse_vlv_response(raw: bytes) -> VlvResult:
    return VlvResult(*wire.vlv_response_value(raw))


def lean_entries(conn: ldap3.Connection) -> ldap3.Connection:
    """Make a connection decode search entries into their DN and raw values only.

    ldap3 turns every entry into two dictionaries (`raw_attributes`, and `attributes`
    with each value decoded to text through its configuration lookups); the listings
    read only the raw values, and the second dictionary cost more than half of the
    Python time of a 50-entry window (3.5 ms -> 1.5 ms measured). Other messages keep
    ldap3's own decoding. Relies on ldap3 2.9's fast decoder (payload layout of a
    SearchResultEntry: DN, then attributes of (type, values)); with that decoder off,
    ldap3's own path is used. tests/web/test_listing.py compares both decodings.
    """
    strategy = conn.strategy
    full = strategy.decode_response_fast

    def decode(message: dict[str, Any]) -> dict[str, object]:
        if message["protocolOp"] != 4:  # not a searchResEntry
            return cast(dict[str, object], full(message))
        dn, attributes = message["payload"]
        return {"type": "searchResEntry", "dn": dn[3].decode("utf-8"),
                "raw_attributes": {a[3][0][3].decode("utf-8"): [v[3] for v in a[3][1][3]]
                                   for a in attributes[3]}}

    strategy.decode_response_fast = decode
    conn.auto_range = False  # its post-processing would look for the `attributes` dictionary
    return conn


# ---- the listing cache --------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    entries: list[Entry]
    offset: int  # 0-based position of the first entry in the whole sorted list
    total: int  # entries in the whole list (slapd's count)


@dataclass
class _Context:
    conn: ldap3.Connection | None
    stamp: object
    created: float
    kept: bool = False  # kept warm on purpose (see SortedLister.window): no LRU eviction
    context_id: bytes | None = None
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Unbind and close, also when slapd has gone (unbind alone then leaves the socket)."""
        if self.conn is not None:
            discard(self.conn)
            self.conn = None


Key = tuple[object, ...]


class SortedLister:
    """Sorted windows of listings, with slapd's sort contexts kept between calls.

    Contexts are evicted oldest first beyond `max_contexts`, and re-sorted after `ttl`
    seconds. A context asked for with `keep=True` (the listing warmer's) is exempt from
    that eviction and lives `kept_ttl` seconds; it stays kept until `release()`, and at
    most `max_kept` are kept (the oldest used goes first): each holds one of slapd's sort
    contexts, of which slapd allows `olcSssVlvMax` (64, deploy/slapd/config.ldif.in) in
    all, and past that it answers every sorted search "busy".
    """

    def __init__(self, max_contexts: int = 12, ttl: float = 120.0, kept_ttl: float = 900.0,
                 max_kept: int = 32) -> None:
        self._contexts: OrderedDict[Key, _Context] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_contexts
        self.max_kept = max_kept
        self._ttl = ttl
        self._kept_ttl = kept_ttl
        self.full_sorts = 0  # searches that made slapd sort a whole result set

    def close(self) -> None:
        """Close every context; one still sorting (the warmer's, at shutdown) is closed
        under it after a short wait, which ends its search."""
        with self._lock:
            contexts, self._contexts = list(self._contexts.values()), OrderedDict()
        for ctx in contexts:
            locked = ctx.lock.acquire(timeout=2)
            try:
                ctx.close()
            finally:
                if locked:
                    ctx.lock.release()

    def _expired(self, ctx: _Context, now: float, max_age: float | None) -> bool:
        limit = max_age if max_age is not None else self._kept_ttl if ctx.kept else self._ttl
        return now - ctx.created > limit

    def _take(self, key: Key, stamp: object, keep: bool, max_age: float | None) -> _Context:
        now = time.monotonic()
        stale: list[_Context] = []
        with self._lock:
            ctx = self._contexts.get(key)
            kept = keep or (ctx is not None and ctx.kept)
            if ctx is not None and (ctx.stamp != stamp or self._expired(ctx, now, max_age)):
                stale.append(self._contexts.pop(key))
                ctx = None
            if ctx is None:
                ctx = _Context(conn=None, stamp=stamp, created=now, kept=kept)
                self._contexts[key] = ctx
            else:
                ctx.kept = kept
                self._contexts.move_to_end(key)
            loose = [k for k, c in self._contexts.items() if not c.kept]
            held = [k for k, c in self._contexts.items() if c.kept]
            for old_key in [*loose[:max(0, len(loose) - self._max)],  # oldest first
                            *held[:max(0, len(held) - self.max_kept)]]:
                stale.append(self._contexts.pop(old_key))
        for old in stale:
            with old.lock:  # wait for a request still using it
                old.close()
        return ctx

    def _forget(self, key: Key, ctx: _Context) -> None:
        with self._lock:
            if self._contexts.get(key) is ctx:
                del self._contexts[key]
        ctx.close()

    def _matching(self, base_suffix: str) -> list[Key]:
        return [k for k in self._contexts if str(k[1]).lower().endswith(base_suffix.lower())]

    def invalidate(self, match: str) -> None:
        """Drop every context whose base DN ends with `match` (after a change there)."""
        with self._lock:
            dropped = [self._contexts.pop(k) for k in self._matching(match)]
        for ctx in dropped:
            with ctx.lock:
                ctx.close()

    def release(self, match: str) -> None:
        """Contexts whose base DN ends with `match` are no longer kept warm (they age and
        are evicted like any other)."""
        with self._lock:
            for key in self._matching(match):
                self._contexts[key].kept = False

    def kept(self) -> int:
        """How many contexts are kept warm now."""
        with self._lock:
            return sum(1 for c in self._contexts.values() if c.kept)

    def window(self, gateway: Gateway, base: str, search_filter: str, keys: Sequence[SortKey],
               offset: int, size: int, attributes: Sequence[str], stamp: object = None,
               keep: bool = False, max_age: float | None = None) -> Window:
        """Entries offset .. offset+size-1 (0-based) of the sorted listing. The sort context
        is shared by every caller with the same gateway identity, base, filter, keys and
        attributes; `keep`: keep it warm (see the class); `max_age`: sort again if the
        context is older than this (default: the lister's ttl or kept_ttl)."""
        if size < 1:
            raise ValueError("size must be at least 1")
        offset = max(0, offset)
        proxied = tuple(gateway.request_controls)
        key = (proxied, base, search_filter, tuple(keys), tuple(attributes))
        for attempt in (1, 2):
            ctx = self._take(key, stamp, keep, max_age)
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
            ctx.conn = lean_entries(gateway.dedicated_connection(SORT_TIMEOUT))
            ctx.context_id = None
        if ctx.context_id is None and offset > 0:
            # slapd answers a first window past the end with an error (76, which ldap3 cannot
            # even decode): sort with a one-entry window at the start, then ask in range.
            self._search(ctx, gateway, base, search_filter, keys, 0, 1, attributes)
        if ctx.context_id is not None and ctx.total and offset >= ctx.total:
            offset = max(0, ctx.total - size)  # past the end: the last window
        controls = [*gateway.request_controls, _cached_sort_control(tuple(keys)),
                    vlv_control(offset + 1, size - 1, ctx.total if ctx.context_id else 0, ctx.context_id)]
        if ctx.context_id is None:
            self.full_sorts += 1
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
                   for item in ctx.conn.response or () if item.get("type") == "searchResEntry"]
        return Window(entries, max(0, vlv.position - 1), vlv.total)


class _Retry(Exception):
    """The context is no longer usable: drop it and sort again."""
