"""What the relay reads from the directory, as `cn=mailserver` (read-only): domains,
mailboxes, aliases. Answers are reused for `relay_lookup_cache_ttl` seconds.

`cached_or_thread` runs a lookup in the event loop when every answer it needs is in
the cache, and in a worker thread (the directory is blocking I/O) only otherwise: a hop
to a thread and back costs ~60 µs of CPU, and most SMTP commands need no directory read.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mailgothai.core.addresses import split_address
from mailgothai.core.models import DomainLimits, Status
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.passwords import LEGACY_MARK, is_marked

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")
_CACHE_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("relay_cache_only", default=False)


class NotCached(Exception):
    """A lookup running in the event loop needs the directory: run it in a thread."""


async def cached_or_thread(func: Callable[..., R], *args: Any) -> R:
    """`func(*args)` from the caches if it can (it must only read), else in a worker thread."""
    token = _CACHE_ONLY.set(True)
    try:
        return func(*args)
    except NotCached:
        pass
    finally:
        _CACHE_ONLY.reset(token)
    return await asyncio.to_thread(func, *args)


ENTRY_ATTRS = ("objectClass", "mail", "mgtStatus", "mgtQuota", "mgtAliasAddress", "mgtForwardAddress", "mgtMember",
               LEGACY_MARK, "entryCSN")
DOMAIN_ATTRS = ("domainName", "mgtStatus", "mgtMaxMessageSize", "mgtHourlySendLimit")


@dataclass(frozen=True)
class DomainInfo:
    name: str
    active: bool
    max_message_size: int
    hourly_send_limit: int


@dataclass(frozen=True)
class AddressEntry:
    """An account (found by its address or one of its aliases) or an alias entry."""

    kind: str  # "mailbox" | "alias"
    address: str  # the entry's own mail (a mailbox's primary address)
    active: bool
    aliases: tuple[str, ...] = ()
    forwards: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    version: str = ""  # entryCSN: changes with every modification (password, status, ...)
    legacy_password: bool = False  # its hash is from an older system: upgraded at the next AUTH


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, size: int = 50_000) -> None:
        self.ttl = ttl
        self._clock = clock
        self._size = size
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K, load: Callable[[], V]) -> V:
        if self.ttl <= 0:
            if _CACHE_ONLY.get():
                raise NotCached
            return load()
        now = self._clock()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if _CACHE_ONLY.get():
            raise NotCached
        value = load()
        if len(self._items) >= self._size:
            self._items.clear()
        self._items[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        self._items.clear()


def _entry(e: Entry) -> AddressEntry:
    classes = {c.lower() for c in e.all("objectClass")}
    kind = "alias" if "mgtalias" in classes else "mailbox"
    return AddressEntry(kind=kind, address=e.first("mail").lower(),
                        active=e.first("mgtStatus", "active") == Status.ACTIVE.value,
                        aliases=tuple(a.lower() for a in e.all("mgtAliasAddress")),
                        forwards=tuple(a.lower() for a in e.all("mgtForwardAddress")),
                        members=tuple(a.lower() for a in e.all("mgtMember")),
                        version=e.first("entryCSN"),
                        legacy_password=is_marked(e))


class RelayDirectory:
    def __init__(self, gateway: Gateway, layout: Layout, ttl: float) -> None:
        self._gw = gateway
        self._layout = layout
        self._domains: TtlCache[str, DomainInfo | None] = TtlCache(ttl)
        self._addresses: TtlCache[str, AddressEntry | None] = TtlCache(ttl)

    def domain(self, name: str) -> DomainInfo | None:
        return self._domains.get(name, lambda: self._read_domain(name))

    def _read_domain(self, name: str) -> DomainInfo | None:
        entry = self._gw.read(self._layout.domain(name), DOMAIN_ATTRS)
        if entry is None:
            return None
        defaults = DomainLimits()
        return DomainInfo(name=entry.first("domainName").lower(),
                          active=entry.first("mgtStatus", "active") == Status.ACTIVE.value,
                          max_message_size=entry.integer("mgtMaxMessageSize", defaults.max_message_size),
                          hourly_send_limit=entry.integer("mgtHourlySendLimit", defaults.hourly_send_limit))

    def address(self, address: str) -> AddressEntry | None:
        """The account or alias entry holding `address` in its (hosted) domain."""
        return self._addresses.get(address, lambda: self._read_address(address))

    def _read_address(self, address: str) -> AddressEntry | None:
        domain = split_address(address)[1]
        flt = f.any_of(f.eq("mail", address), f.eq("mgtAliasAddress", address))
        entries = self._gw.search(self._layout.domain(domain), flt, ENTRY_ATTRS, limit=2)
        return _entry(entries[0]) if entries else None

    def owned_addresses(self, login: str) -> frozenset[str]:
        """The addresses a logged-in user may send as: its own and its aliases."""
        entry = self.address(login)
        if entry is None or entry.kind != "mailbox" or entry.address != login or not entry.active:
            return frozenset()
        return frozenset((entry.address, *entry.aliases))

    def account_dn(self, address: str) -> str:
        return self._layout.account(address)

    def clear(self) -> None:
        self._domains.clear()
        self._addresses.clear()
