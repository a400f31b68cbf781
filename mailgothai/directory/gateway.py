"""The operations the repositories need (read, search, add, modify, ...), each run by
the provider pool (pool.py: pooled connections, provider choice, failover and retry),
ldap3's exceptions mapped to the project's by directory/results.py.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Literal, TypeVar

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.core.app_passwords import parse as parse_app_password
from mailgothai.core.passwords import UnsupportedScheme, verify_password
from mailgothai.directory import batch
from mailgothai.directory.entries import Entry, NewEntry, encode_values, from_ldap3
from mailgothai.directory.pool import ProviderPool
from mailgothai.directory.results import map_error
from mailgothai.directory.wire import Decoded, taking_entries
from mailgothai.errors import DirectoryUnreachable, NoAnswer

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
PROXIED_AUTHZ_OID = "2.16.840.1.113730.3.4.18"  # RFC 4370
Scope = Literal["BASE", "LEVEL", "SUBTREE"]
T = TypeVar("T")


class Gateway:
    """The directory as the repositories see it, bound as one identity; several URIs
    fail over (pool.py)."""

    def __init__(self, uris: Sequence[str], bind_dn: str, password: str, timeout: int = 10,
                 pool_size: int = 8) -> None:
        self._pool = ProviderPool(uris, bind_dn, password, int(timeout), pool_size)
        self._bind_dn = bind_dn
        self._controls: list[tuple[str, bool, bytes]] | None = None
        self._acting_as = ""

    def __repr__(self) -> str:
        acting = f", acting_as={self._acting_as!r}" if self._acting_as else ""
        return f"Gateway(bind_dn={self._bind_dn!r}{acting})"

    def acting_as(self, dn: str) -> Gateway:
        """The same connections, every operation carrying the proxied authorization
        control for dn: slapd then applies its access rules to dn, not to us."""
        other = copy.copy(self)  # shares the pool of providers and connections
        other._controls = [(PROXIED_AUTHZ_OID, True, f"dn:{dn}".encode())]
        other._acting_as = dn
        return other

    def as_application(self) -> Gateway:
        """The same connections without the proxied authorization: the application's own
        rights. Only for reads a service has already checked the actor's rights for."""
        other = copy.copy(self)
        other._controls = None
        other._acting_as = ""
        return other

    @property
    def current_uri(self) -> str:
        """The provider this process sends its operations to now."""
        return self._pool.current_uri

    @property
    def failovers(self) -> int:
        """How often this process moved to another provider (pool.py)."""
        return self._pool.failovers

    def dedicated_connection(self, receive_timeout: int | None = None) -> ldap3.Connection:
        """A bound connection outside the pool, for state the server keeps across
        calls on one connection (sort/VLV contexts, see directory/vlv.py).
        `receive_timeout`: seconds to wait for an answer, if not the gateway's."""
        return self._pool.open(int(receive_timeout) if receive_timeout else None)[1]

    @property
    def request_controls(self) -> list[tuple[str, bool, bytes]]:
        """The controls every operation of this gateway carries (proxied authorization)."""
        return list(self._controls or [])

    @contextlib.contextmanager
    def connection(self) -> Iterator[ldap3.Connection]:
        """A pooled connection to the current provider (pool.ProviderPool.connection)."""
        with self._pool.connection() as conn:
            yield conn

    def call(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run operation on a pooled connection, on the next provider if this one fails
        under it (pool.ProviderPool.call)."""
        return self._pool.call(operation)

    def close(self) -> None:
        self._pool.close()

    # ---- operations ---------------------------------------------------------
    def read(self, dn: str, attributes: Sequence[str] = ("*",)) -> Entry | None:
        """The entry at dn, or None."""
        def operation(conn: ldap3.Connection) -> Entry | None:
            try:
                conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes), controls=self._controls)
            except lx.LDAPNoSuchObjectResult:
                return None
            except lx.LDAPException as exc:
                raise map_error(exc, dn) from exc
            return from_ldap3(conn.response[0]) if conn.response else None
        return self._pool.call(operation)

    def search(self, base: str, search_filter: str, attributes: Sequence[str] = ("*",),
               scope: Scope = ldap3.SUBTREE, limit: int = 0) -> list[Entry]:
        def operation(conn: ldap3.Connection) -> list[Entry]:
            try:
                conn.search(base, search_filter, scope, attributes=list(attributes), size_limit=limit,
                            controls=self._controls)
            except lx.LDAPSizeLimitExceededResult:
                pass  # the entries up to the limit are in the response
            except lx.LDAPNoSuchObjectResult:
                return []
            except lx.LDAPException as exc:
                raise map_error(exc, f"search {search_filter}") from exc
            return [from_ldap3(item) for item in conn.response or () if item.get("type") == "searchResEntry"]
        return self._pool.call(operation)

    def first_page(self, base: str, search_filter: str, size: int,
                   attributes: Sequence[str] = ("*",)) -> tuple[list[Entry], bool]:
        """The first `size` entries, and whether more follow (a size limit of size + 1:
        no paged-results state is left behind on the server)."""
        entries = self.search(base, search_filter, attributes, limit=size + 1)
        return entries[:size], len(entries) > size

    def iter_paged(self, base: str, search_filter: str, attributes: Sequence[str] = ("*",),
                   page_size: int = 500) -> Iterator[Entry]:
        """Every matching entry, a page at a time on one connection: memory stays bounded."""
        with self._pool.connection() as conn:
            cookie: bytes | None = None
            while True:
                decoded: list[Decoded] = []  # entries decoded once from the wire (wire.py)
                try:
                    with taking_entries(conn, decoded):
                        conn.search(base, search_filter, ldap3.SUBTREE, attributes=list(attributes),
                                    paged_size=page_size, paged_cookie=cookie, controls=self._controls)
                except lx.LDAPNoSuchObjectResult:
                    return
                except lx.LDAPException as exc:
                    raise map_error(exc, f"search {search_filter}") from exc
                page = [Entry(dn, attrs) for dn, attrs in decoded]
                page += [from_ldap3(item) for item in conn.response or () if item.get("type") == "searchResEntry"]
                cookie = conn.result.get("controls", {}).get(PAGED_RESULTS_OID, {}).get("value", {}).get("cookie")
                yield from page
                if not cookie:
                    return

    def _write(self, what: str, write: Callable[[ldap3.Connection], object]) -> None:
        def operation(conn: ldap3.Connection) -> None:
            try:
                write(conn)
            except lx.LDAPException as exc:
                raise map_error(exc, what) from exc
        self._pool.call(operation)

    def add(self, entry: NewEntry) -> None:
        values = entry.values()
        classes = values.pop("objectClass")
        self._write(entry.dn, lambda conn: conn.add(entry.dn, classes, values, controls=self._controls))

    def add_all(self, entries: Sequence[NewEntry]) -> None:
        """Add entries in one LDAP transaction: all of them or none (directory/batch.py).
        Raises TransactionRefused naming the refused one, or DirectoryUnreachable when the
        outcome is unknown."""
        requests = [(entry.dn, entry.values()) for entry in entries]

        def operation(conn: ldap3.Connection) -> None:
            try:
                batch.add_all(conn, requests, self._controls or ())
            except NoAnswer as exc:
                raise DirectoryUnreachable(str(exc)) from exc
        self._pool.call(operation)

    def search_equal(self, base: str, attribute: str, values: Sequence[str],
                     attributes: Sequence[str]) -> list[Entry]:
        """Entries below base whose `attribute` equals one of `values`: one search, its
        filter encoded straight to BER (directory/batch.py), for lookups of many values."""
        return self.search_any(base, [(attribute, value) for value in values], attributes)

    def search_any(self, base: str, terms: Sequence[tuple[str, str]], attributes: Sequence[str]) -> list[Entry]:
        """Entries below base for which one of `terms` (attribute, value) holds, the search
        encoded and its entries decoded by wire.py: the relay's lookup of each new
        recipient, where ldap3's general encoder and decoder cost more than the rest."""
        def operation(conn: ldap3.Connection) -> list[Entry]:
            try:
                found = batch.search_any(conn, base, terms, attributes, self._controls or ())
            except NoAnswer as exc:
                raise DirectoryUnreachable(str(exc)) from exc
            return [Entry(dn, attrs) for dn, attrs in found]
        return self._pool.call(operation)

    def modify(self, dn: str, changes: Mapping[str, list[tuple[str, list[str]]]]) -> None:
        self._write(dn, lambda conn: conn.modify(dn, dict(changes), controls=self._controls))

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
        self._write(dn, lambda conn: conn.delete(dn, controls=self._controls))

    def rename(self, dn: str, new_rdn: str, *, delete_old_rdn: bool, new_superior: str | None = None) -> None:
        """Move an entry (LDAP modify DN) in one atomic operation: it keeps its entryUUID
        and every attribute; the values of new_rdn are added to it, those of its old RDN
        removed only if delete_old_rdn."""
        self._write(dn, lambda conn: conn.modify_dn(dn, new_rdn, delete_old_dn=delete_old_rdn,
                                                      new_superior=new_superior, controls=self._controls))

    def check_password(self, dn: str, password: str) -> bool:
        """A simple bind as dn: slapd verifies the stored hash, whatever its scheme."""
        return self._as_self(dn, password, lambda conn: True)

    def replace_own_legacy_hash(self, dn: str, password: str, new_hash: str) -> bool:
        """Bound as dn with its password, replace its hash from an older system with
        new_hash and drop the mark (mgtPasswordUpgrade) in one modify, which the ACLs let
        an entry make only while the mark is there. False if the bind fails or the mark
        is gone (upgraded meanwhile, or an admin set a new password).

        The entry's app passwords (issue 20: more values of userPassword, listed in
        mgtAppPassword, which this gateway's identity reads) stay; and if `password` is one
        of them (the bind took it), nothing is replaced: it is not the main password."""
        entry = self.read(dn, ("mgtAppPassword",))
        apps = [app.hash for app in map(parse_app_password, entry.all("mgtAppPassword") if entry else ()) if app]
        if any(_verifies(password, stored) for stored in apps):
            return False

        def upgrade(conn: ldap3.Connection) -> bool:
            return bool(conn.modify(dn, {
                "mgtPasswordUpgrade": [(ldap3.MODIFY_DELETE, ["TRUE"])],
                "userPassword": [(ldap3.MODIFY_REPLACE, [new_hash, *apps])],
            }))
        return self._as_self(dn, password, upgrade)

    def _as_self(self, dn: str, password: str, then: Callable[[ldap3.Connection], bool]) -> bool:
        """Bind as dn with password on a connection of its own; then(conn) if that worked."""
        return self._pool.bind_as(dn, password, then)


def _verifies(password: str, stored: str) -> bool:
    try:
        return verify_password(password, stored)
    except UnsupportedScheme:
        return False
