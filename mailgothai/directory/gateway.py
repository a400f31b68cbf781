"""Connections to slapd and the few operations the repositories need.

Bound connections are reused from a small pool. Every ldap3 exception is mapped here
to the project's own (AlreadyExists, NotFound, DirectoryError, ...).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.errors import AlreadyExists, DirectoryError, NotFound

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
PROXIED_AUTHZ_OID = "2.16.840.1.113730.3.4.18"  # RFC 4370
Attrs = dict[str, list[bytes]]


class ValueChanged(DirectoryError):
    """A compare-and-swap modify lost a race: the old value was no longer there."""


@dataclass(frozen=True)
class Entry:
    dn: str
    attrs: Attrs = field(repr=False)

    def first(self, name: str, default: str = "") -> str:
        values = self.attrs.get(name.lower())
        return values[0].decode("utf-8") if values else default

    def all(self, name: str) -> tuple[str, ...]:
        return tuple(v.decode("utf-8") for v in self.attrs.get(name.lower(), []))

    def integer(self, name: str, default: int = 0) -> int:
        text = self.first(name)
        return int(text) if text else default


def _entry(item: Mapping[str, object]) -> Entry:
    raw = item.get("raw_attributes") or {}
    assert isinstance(raw, Mapping)
    return Entry(str(item["dn"]), {str(k).lower(): list(v) for k, v in raw.items()})


def encode_values(values: Mapping[str, object]) -> dict[str, list[str]]:
    """Attribute values as lists of strings; None, "" and empty sequences are left out."""
    out: dict[str, list[str]] = {}
    for name, value in values.items():
        if value is None or value == "" or value == () or value == []:
            continue
        seq = value if isinstance(value, (list, tuple)) else [value]
        out[name] = [str(v) for v in seq]
    return out


def map_error(exc: lx.LDAPException, what: str) -> Exception:
    if isinstance(exc, lx.LDAPEntryAlreadyExistsResult):
        return AlreadyExists("entry", what)
    if isinstance(exc, lx.LDAPNoSuchObjectResult):
        return NotFound("entry", what)
    if isinstance(exc, lx.LDAPNoSuchAttributeResult):
        return ValueChanged(f"{what}: a value changed underneath the operation")
    if isinstance(exc, lx.LDAPInsufficientAccessRightsResult):
        return DirectoryError(f"{what}: the directory refused access")
    if isinstance(exc, (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSocketSendError,
                        lx.LDAPSessionTerminatedByServerError, lx.LDAPCommunicationError)):
        return DirectoryError(f"the directory is unreachable ({what}): {exc}")
    return DirectoryError(f"{what}: {exc}")


class Gateway:
    """Pooled, bound ldap3 connections to one directory (several URIs fail over)."""

    def __init__(self, uris: Sequence[str], bind_dn: str, password: str, timeout: int = 10,
                 pool_size: int = 8) -> None:
        servers = [ldap3.Server(uri, connect_timeout=timeout, get_info=ldap3.NONE) for uri in uris]
        self._servers = ldap3.ServerPool(servers, ldap3.FIRST, active=1, exhaust=False)
        self._bind_dn = bind_dn
        self._password = password
        self._timeout = int(timeout)
        self._pool_size = pool_size
        self._idle: list[ldap3.Connection] = []
        self._lock = threading.Lock()
        self._controls: list[tuple[str, bool, bytes]] | None = None
        self._acting_as = ""

    def __repr__(self) -> str:
        acting = f", acting_as={self._acting_as!r}" if self._acting_as else ""
        return f"Gateway(bind_dn={self._bind_dn!r}{acting})"

    def acting_as(self, dn: str) -> "Gateway":
        """The same connections, every operation carrying the proxied authorization
        control for dn: slapd then applies its access rules to dn, not to us."""
        other = copy.copy(self)  # shares the pool and its lock
        other._controls = [(PROXIED_AUTHZ_OID, True, f"dn:{dn}".encode("utf-8"))]
        other._acting_as = dn
        return other

    def _open(self) -> ldap3.Connection:
        try:
            return ldap3.Connection(
                self._servers, user=self._bind_dn, password=self._password,
                auto_bind=ldap3.AUTO_BIND_NO_TLS, raise_exceptions=True,
                receive_timeout=self._timeout, auto_referrals=False, return_empty_attributes=False,
            )
        except lx.LDAPException as exc:
            raise map_error(exc, "bind") from exc

    @contextlib.contextmanager
    def connection(self) -> Iterator[ldap3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._open()
        healthy = False
        try:
            yield conn
            healthy = True
        except (NotFound, AlreadyExists, ValueChanged):
            healthy = True  # the server answered: the connection is fine
            raise
        finally:
            with self._lock:
                if healthy and not conn.closed and len(self._idle) < self._pool_size:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                with contextlib.suppress(lx.LDAPException):
                    conn.unbind()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(lx.LDAPException):
                conn.unbind()

    # ---- operations ---------------------------------------------------------
    def read(self, dn: str, attributes: Sequence[str] = ("*",)) -> Entry | None:
        """The entry at dn, or None."""
        with self.connection() as conn:
            try:
                conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes), controls=self._controls)
            except lx.LDAPNoSuchObjectResult:
                return None
            except lx.LDAPException as exc:
                raise map_error(exc, dn) from exc
            return _entry(conn.response[0]) if conn.response else None

    def search(self, base: str, search_filter: str, attributes: Sequence[str] = ("*",),
               scope: str = ldap3.SUBTREE, limit: int = 0) -> list[Entry]:
        with self.connection() as conn:
            try:
                conn.search(base, search_filter, scope, attributes=list(attributes), size_limit=limit,
                            controls=self._controls)
            except lx.LDAPSizeLimitExceededResult:
                pass  # the entries up to the limit are in the response
            except lx.LDAPNoSuchObjectResult:
                return []
            except lx.LDAPException as exc:
                raise map_error(exc, f"search {search_filter}") from exc
            return [_entry(item) for item in conn.response if item.get("type") == "searchResEntry"]

    def first_page(self, base: str, search_filter: str, size: int,
                   attributes: Sequence[str] = ("*",)) -> tuple[list[Entry], bool]:
        """The first `size` entries, and whether more follow (a size limit of size + 1:
        no paged-results state is left behind on the server)."""
        entries = self.search(base, search_filter, attributes, limit=size + 1)
        return entries[:size], len(entries) > size

    def iter_paged(self, base: str, search_filter: str, attributes: Sequence[str] = ("*",),
                   page_size: int = 500) -> Iterator[Entry]:
        """Every matching entry, a page at a time on one connection: memory stays bounded."""
        with self.connection() as conn:
            cookie: bytes | None = None
            while True:
                try:
                    conn.search(base, search_filter, ldap3.SUBTREE, attributes=list(attributes),
                                paged_size=page_size, paged_cookie=cookie, controls=self._controls)
                except lx.LDAPNoSuchObjectResult:
                    return
                except lx.LDAPException as exc:
                    raise map_error(exc, f"search {search_filter}") from exc
                page = [_entry(item) for item in conn.response if item.get("type") == "searchResEntry"]
                cookie = conn.result.get("controls", {}).get(PAGED_RESULTS_OID, {}).get("value", {}).get("cookie")
                yield from page
                if not cookie:
                    return

    def add(self, dn: str, object_classes: Sequence[str], attributes: Mapping[str, object]) -> None:
        with self.connection() as conn:
            try:
                conn.add(dn, list(object_classes), encode_values(attributes), controls=self._controls)
            except lx.LDAPException as exc:
                raise map_error(exc, dn) from exc

    def modify(self, dn: str, changes: Mapping[str, list[tuple[str, list[str]]]]) -> None:
        with self.connection() as conn:
            try:
                conn.modify(dn, dict(changes), controls=self._controls)
            except lx.LDAPException as exc:
                raise map_error(exc, dn) from exc

    def replace(self, dn: str, values: Mapping[str, object]) -> None:
        """Set attributes to the given values; None or empty removes the attribute."""
        changes: dict[str, list[tuple[str, list[str]]]] = {}
        for name, value in values.items():
            encoded = encode_values({name: value}).get(name, [])
            changes[name] = [(ldap3.MODIFY_REPLACE, encoded)]
        if changes:
            self.modify(dn, changes)

    def swap(self, dn: str, old_new: Mapping[str, tuple[str, str]]) -> None:
        """Compare-and-swap several single values in one atomic modify.

        Raises ValueChanged if any old value is no longer the stored one.
        """
        changes = {
            name: [(ldap3.MODIFY_DELETE, [old]), (ldap3.MODIFY_ADD, [new])] for name, (old, new) in old_new.items()
        }
        self.modify(dn, changes)

    def delete(self, dn: str) -> None:
        with self.connection() as conn:
            try:
                conn.delete(dn, controls=self._controls)
            except lx.LDAPException as exc:
                raise map_error(exc, dn) from exc

    def check_password(self, dn: str, password: str) -> bool:
        """A simple bind as dn: slapd verifies the stored hash, whatever its scheme."""
        if not password:
            return False  # an empty password would be an unauthenticated bind
        conn = ldap3.Connection(self._servers, user=dn, password=password, raise_exceptions=False,
                                receive_timeout=self._timeout)
        try:
            return bool(conn.bind())
        except lx.LDAPException as exc:
            raise map_error(exc, "bind") from exc
        finally:
            with contextlib.suppress(lx.LDAPException):
                conn.unbind()
