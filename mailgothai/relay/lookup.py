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
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from mailgothai.core.addresses import split_address
from mailgothai.core.limits import MAX_COUNTS
from mailgothai.core.models import DomainLimits, Status
from mailgothai.core.shared import Right, parse_access
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.passwords import LEGACY_MARK, MUST_CHANGE, is_marked

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
               LEGACY_MARK, "entryCSN", "mgtSharedAccess", MUST_CHANGE, "entryUUID")
DOMAIN_ATTRS = ("objectClass", "domainName", "mgtStatus", "mgtMaxMessageSize", "mgtHourlySendLimit", "mgtCatchAll",
                "mgtAliasDomainTarget")


@dataclass(frozen=True)
class DomainInfo:
    name: str
    active: bool
    max_message_size: int
    hourly_send_limit: int
    catch_all: str = ""  # the address that receives mail for unknown addresses; "" = off
    alias_of: str = ""  # an alias domain's target: whose status, limits and catch-all these are


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
    shared: bool = False  # a shared role mailbox (issue 17): delivered to like a mailbox, nobody logs in as it
    send_as: tuple[str, ...] = ()  # ids of the shared mailboxes this account may send as (core/shared.py)
    must_change: bool = False  # its password must be changed first (issue 20): AUTH refused
    mailbox_id: str = ""  # a mailbox's identity (entryUUID): what its mail belongs to


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

    def forget(self, key: K) -> None:
        self._items.pop(key, None)


def _entry(e: Entry) -> AddressEntry:
    classes = {c.lower() for c in e.all("objectClass")}
    kind = "alias" if "mgtalias" in classes else "mailbox"
    return AddressEntry(kind=kind, address=e.first("mail").lower(),
                        active=e.first("mgtStatus", "active") == Status.ACTIVE.value,
                        aliases=tuple(a.lower() for a in e.all("mgtAliasAddress")),
                        forwards=tuple(a.lower() for a in e.all("mgtForwardAddress")),
                        members=tuple(a.lower() for a in e.all("mgtMember")),
                        version=e.first("entryCSN"),
                        legacy_password=is_marked(e), shared="mgtsharedmailbox" in classes,
                        send_as=tuple(sid for sid, rights in parse_access(e.first("mgtSharedAccess")).items()
                                      if Right.SEND_AS in rights),
                        must_change=e.first(MUST_CHANGE).upper() == "TRUE",
                        mailbox_id=e.first("entryUUID") if kind == "mailbox" else "")


class RelayDirectory:
    def __init__(self, gateway: Gateway, layout: Layout, ttl: float) -> None:
        self._gw = gateway
        self._layout = layout
        self._domains: TtlCache[str, DomainInfo | None] = TtlCache(ttl)
        self._addresses: TtlCache[str, AddressEntry | None] = TtlCache(ttl)
        self._alias_domains: TtlCache[str, tuple[str, ...]] = TtlCache(ttl)
        self._shared: TtlCache[tuple[str, str], str] = TtlCache(ttl)

    def domain(self, name: str) -> DomainInfo | None:
        return self._domains.get(name, lambda: self._read_domain(name))

    def _read_domain(self, name: str) -> DomainInfo | None:
        entry = self._gw.read(self._layout.domain(name), DOMAIN_ATTRS)
        if entry is None:
            return None
        if "mgtaliasdomain" in {c.lower() for c in entry.all("objectClass")}:
            # an alias domain (issue 17): hosted as long as its target is, and as that one is
            target = self.domain(entry.first("mgtAliasDomainTarget").lower())
            if target is None or target.alias_of:
                return None
            return replace(target, name=entry.first("domainName").lower(), alias_of=target.name)
        defaults = DomainLimits()
        return DomainInfo(name=entry.first("domainName").lower(),
                          active=entry.first("mgtStatus", "active") == Status.ACTIVE.value,
                          max_message_size=entry.integer("mgtMaxMessageSize", defaults.max_message_size),
                          # past the maximum (set before it existed): the maximum, which the counters hold
                          hourly_send_limit=min(entry.integer("mgtHourlySendLimit", defaults.hourly_send_limit),
                                                MAX_COUNTS["hourly_send_limit"]),
                          catch_all=entry.first("mgtCatchAll").lower())

    def canonical(self, address: str) -> str:
        """`address` with an alias domain replaced by the domain it stands for (local@NEW →
        local@EXISTING); any other address as it is."""
        local, _, name = address.rpartition("@")
        if not local:
            return address
        domain = self.domain(name)
        return f"{local}@{domain.alias_of}" if domain is not None and domain.alias_of else address

    def alias_domains(self, name: str) -> tuple[str, ...]:
        """The alias domains of the hosted domain `name`."""
        return self._alias_domains.get(name, lambda: self._read_alias_domains(name))

    def _read_alias_domains(self, name: str) -> tuple[str, ...]:
        flt = f.all_of(f.eq("objectClass", "mgtAliasDomain"), f.eq("mgtAliasDomainTarget", name))
        found = self._gw.search(self._layout.domains, flt, ("domainName",), scope="LEVEL")
        return tuple(sorted(e.first("domainName").lower() for e in found))

    def address(self, address: str) -> AddressEntry | None:
        """The account or alias entry holding `address` in its (hosted) domain."""
        return self._addresses.get(address, lambda: self._read_address(address))

    def login_version(self, login: str) -> str | None:
        """The entryCSN ("" if unreadable) of the account whose canonical login this is,
        while a login to it is let in — a mailbox, active, in an active domain, no password
        change required (relay/auth.py's rule) —, else None. What an SMTP session that
        logged in as `login` is held to (relay/handler.py): the same cached reads as the
        sender-ownership check, so no directory read while they are fresh."""
        entry = self.address(login)
        if entry is None or entry.kind != "mailbox" or entry.address != login or not entry.active \
                or entry.must_change:
            return None
        domain = self.domain(login.rpartition("@")[2])
        return entry.version if domain is not None and domain.active else None

    def _read_address(self, address: str) -> AddressEntry | None:
        domain = split_address(address)[1]
        entries = self._gw.search_any(self._layout.domain(domain), (("mail", address), ("mgtAliasAddress", address)),
                                      ENTRY_ATTRS)
        return _entry(entries[0]) if entries else None

    def owned_addresses(self, login: str) -> frozenset[str]:
        """The addresses a logged-in user may send as: its own and its aliases, each also
        at every alias domain of its domain (issue 17)."""
        entry = self.address(login)
        if entry is None or entry.kind != "mailbox" or entry.address != login or not entry.active or entry.shared:
            return frozenset()
        own = (entry.address, *entry.aliases)
        # shared mailboxes it may send as (issue 17): its rights are on its own entry, read
        # with it (so a removal shows after relay_lookup_cache_ttl at most, at once on this
        # node: services signal the relay); a suspended or removed shared mailbox is left out
        domain = split_address(login)[1]
        shared = tuple(a for a in (self.shared_address(domain, sid) for sid in entry.send_as) if a)
        return frozenset((*own, *shared, *self._at_alias_domains((*own, *shared))))

    def shared_address(self, domain: str, shared_id: str) -> str:
        return self._shared.get((domain, shared_id), lambda: self._read_shared(domain, shared_id))

    def _read_shared(self, domain: str, shared_id: str) -> str:
        """The address of the active shared mailbox of `domain` with this id, or ""."""
        flt = f.all_of(f.eq("objectClass", "mgtSharedMailbox"), f.eq("entryUUID", shared_id),
                       f.eq("mgtStatus", Status.ACTIVE.value))
        found = self._gw.search(self._layout.domain(domain), flt, ("mail",), limit=2)
        return found[0].first("mail").lower() if found else ""

    def _at_alias_domains(self, addresses: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for address in addresses:
            local, _, name = address.rpartition("@")
            out.extend(f"{local}@{alias}" for alias in self.alias_domains(name))
        return tuple(out)

    def mailbox_id_of(self, address: str) -> str:
        """The mailbox id of the mailbox whose own address this is now, read afresh; "" if
        no mailbox has it."""
        entry = self._read_address(address)
        return entry.mailbox_id if entry is not None and entry.kind == "mailbox" and entry.address == address else ""

    def mailbox_address(self, mailbox_id: str) -> str | None:
        """The address the live mailbox (account or shared mailbox) with this id has now,
        or None when there is none (deleted, purged). Read afresh, never cached: it decides
        whose mailbox a queued message goes to. entryUUID is equality-indexed."""
        for entry in self._gw.search_any(self._layout.domains, (("entryUUID", mailbox_id),), ("mail", "objectClass")):
            if {c.lower() for c in entry.all("objectClass")} & {"mgtaccount", "mgtsharedmailbox"}:
                return entry.first("mail").lower()
        return None

    def account_dn(self, address: str) -> str:
        return self._layout.account(address)

    def forget_address(self, address: str) -> None:
        """The next read of `address` asks slapd (this process changed its entry)."""
        self._addresses.forget(address)

    def clear(self) -> None:
        self._domains.clear()
        self._addresses.clear()
        self._alias_domains.clear()
        self._shared.clear()
