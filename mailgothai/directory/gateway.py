"""Connections to slapd and the few operations the repositories need.

Bound connections are reused from a small pool. Every ldap3 exception is mapped here
to the project's own (AlreadyExists, NotFound, DirectoryError, ...).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.directory import batch
from mailgothai.directory.wire import Decoded, taking_entries
from mailgothai.errors import AlreadyExists, DirectoryError, NotFound

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
PROXIED_AUTHZ_OID = "2.16.840.1.113730.3.4.18"  # RFC 4370
Attrs = dict[str, list[bytes]]


class ValueChanged(DirectoryError):
    """A compare-and-swap modify lost a race: the old value was no longer there."""


class DirectoryUnreachable(DirectoryError):
    """No answer from the directory: refused, reset, or silent past the receive timeout."""


class _DroppedWhileIdle(DirectoryUnreachable):
    """A pooled connection the server had closed while it was idle (slapd restarted)."""


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


# A provider that is down, hung past the receive timeout, or shutting down.
COMMUNICATION_ERRORS = (lx.LDAPCommunicationError, lx.LDAPResponseTimeoutError, lx.LDAPUnavailableResult,
                        lx.LDAPBusyResult)
# The server closed the connection (not: refused, or silent past the timeout).
CLOSED_BY_SERVER = (lx.LDAPSocketReceiveError, lx.LDAPSocketSendError, lx.LDAPSessionTerminatedByServerError,
                    lx.LDAPSocketCloseError)


def _closed_by_server(exc: BaseException) -> bool:
    """ldap3 reports a receive timeout as a receive error too (its class then also derives
    from TimeoutError): a silent server is not a closed connection, and is not retried."""
    for error in (exc, exc.__cause__):
        if isinstance(error, CLOSED_BY_SERVER) and not isinstance(error, TimeoutError):
            return True
    return False


def map_error(exc: lx.LDAPException, what: str) -> Exception:
    if isinstance(exc, lx.LDAPEntryAlreadyExistsResult):
        return AlreadyExists("entry", what)
    if isinstance(exc, lx.LDAPNoSuchObjectResult):
        return NotFound("entry", what)
    if isinstance(exc, lx.LDAPNoSuchAttributeResult):
        return ValueChanged(f"{what}: a value changed underneath the operation")
    if isinstance(exc, lx.LDAPInsufficientAccessRightsResult):
        return DirectoryError(f"{what}: the directory refused access")
    if isinstance(exc, COMMUNICATION_ERRORS):
        return DirectoryUnreachable(f"the directory is unreachable ({what}): {exc}")
    return DirectoryError(f"{what}: {exc}")


T = TypeVar("T")
Scope = Literal["BASE", "LEVEL", "SUBTREE"]


def discard(conn: ldap3.Connection) -> None:
    """Unbind and close, also when the server is gone (then unbind fails half-way and
    would leave the socket open)."""
    with contextlib.suppress(Exception):
        conn.unbind()
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


class _Providers:
    """The directory servers one process talks to, and which of them it uses now.

    Writes must go to one provider at a time (two providers changing one entry at once
    can lose a change; see STACK-NOTES), so the choice is sticky: every connection goes
    to the current server until it fails (refused, reset, or silent past the receive
    timeout, as a hung slapd is), then the next one in order becomes current.
    Shared by a gateway and its acting_as() copies.
    """

    def __init__(self, uris: Sequence[str], timeout: int, pool_size: int) -> None:
        if not uris:
            raise DirectoryError("no directory URI configured")
        self.servers = [ldap3.Server(uri, connect_timeout=timeout, get_info=ldap3.NONE) for uri in uris]
        self.current = 0
        self.idle: list[ldap3.Connection] = []
        self.pool_size = pool_size
        self.lock = threading.Lock()

    def server(self) -> tuple[int, ldap3.Server]:
        """The current server. ldap3 remembers a failed address and refuses to try it for
        5 s ("invalid server address"); failing over is this class's business, so that
        memory is cleared: a slapd that is back is used at once."""
        with self.lock:
            index, server = self.current, self.servers[self.current]
        server.reset_availability()
        return index, server

    def failed(self, index: int) -> None:
        """Server `index` did not answer: drop the idle connections to it (they are as dead
        as the one that failed, e.g. after a restart of slapd) and move on to the next
        server (unless another thread already did)."""
        with self.lock:
            if self.current == index:
                self.current = (index + 1) % len(self.servers)
                stale, self.idle = self.idle, []
            else:
                stale = []
        for conn in stale:
            discard(conn)


class Gateway:
    """Pooled, bound ldap3 connections to the directory; several URIs fail over."""

    def __init__(self, uris: Sequence[str], bind_dn: str, password: str, timeout: int = 10,
                 pool_size: int = 8) -> None:
        self._timeout = int(timeout)
        self._providers = _Providers(uris, self._timeout, pool_size)
        self._bind_dn = bind_dn
        self._password = password
        self._controls: list[tuple[str, bool, bytes]] | None = None
        self._acting_as = ""

    def __repr__(self) -> str:
        acting = f", acting_as={self._acting_as!r}" if self._acting_as else ""
        return f"Gateway(bind_dn={self._bind_dn!r}{acting})"

    def acting_as(self, dn: str) -> Gateway:
        """The same connections, every operation carrying the proxied authorization
        control for dn: slapd then applies its access rules to dn, not to us."""
        other = copy.copy(self)  # shares the providers, their pool and its lock
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
        server = self._providers.server()[1]
        return f"{'ldaps' if server.ssl else 'ldap'}://{server.host}:{server.port}"

    def _open(self, receive_timeout: int | None = None) -> tuple[int, ldap3.Connection]:
        """A bound connection to the current server, failing over to the next ones."""
        last: Exception | None = None
        for _ in self._providers.servers:
            index, server = self._providers.server()
            conn = ldap3.Connection(
                server, user=self._bind_dn, password=self._password, raise_exceptions=True,
                receive_timeout=receive_timeout or self._timeout, auto_referrals=False,
                return_empty_attributes=False,
                check_names=False,  # only raw_attributes are read: skip ldap3's formatting pass
            )
            try:
                conn.open()
                conn.bind()
                return index, conn
            except COMMUNICATION_ERRORS as exc:
                discard(conn)
                self._providers.failed(index)
                last = exc
            except lx.LDAPException as exc:
                discard(conn)
                raise map_error(exc, "bind") from exc
        raise DirectoryUnreachable(f"the directory is unreachable: {last}")

    def dedicated_connection(self, receive_timeout: int | None = None) -> ldap3.Connection:
        """A bound connection outside the pool, for state the server keeps across
        calls on one connection (sort/VLV contexts, see directory/vlv.py).
        `receive_timeout`: seconds to wait for an answer, if not the gateway's."""
        return self._open(int(receive_timeout) if receive_timeout else None)[1]

    @property
    def request_controls(self) -> list[tuple[str, bool, bytes]]:
        """The controls every operation of this gateway carries (proxied authorization)."""
        return list(self._controls or [])

    @contextlib.contextmanager
    def connection(self) -> Iterator[ldap3.Connection]:
        """A pooled connection to the current provider. A communication failure inside
        the block marks that provider failed (the next call goes to the next one); use
        call() for an operation that should be retried there at once."""
        providers = self._providers
        with providers.lock:
            conn = providers.idle.pop() if providers.idle else None
            index = providers.current
        pooled = conn is not None
        if conn is None:
            index, conn = self._open()
        healthy = False
        try:
            yield conn
            healthy = True
        except (NotFound, AlreadyExists, ValueChanged):
            healthy = True  # the server answered: the connection is fine
            raise
        except (DirectoryUnreachable, *COMMUNICATION_ERRORS) as exc:
            providers.failed(index)
            if pooled and _closed_by_server(exc):
                raise _DroppedWhileIdle(f"the directory closed an idle connection: {exc}") from exc
            raise
        finally:
            with providers.lock:
                if (healthy and not conn.closed and index == providers.current
                        and len(providers.idle) < providers.pool_size):
                    providers.idle.append(conn)
                    conn = None
            if conn is not None:
                discard(conn)

    def call(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run operation on a pooled connection; if the provider fails under it, run it
        again on the next provider (each provider tried once). A pooled connection the
        server had closed while idle (slapd restarted) does not count as a try: the
        operation runs again on a fresh connection (the failure emptied the pool)."""
        last: Exception | None = None
        tries, dropped = len(self._providers.servers), self._providers.pool_size + 1
        while tries > 0:
            try:
                with self.connection() as conn:
                    return operation(conn)
            except _DroppedWhileIdle as exc:
                last, dropped = exc, dropped - 1
                if dropped > 0:
                    continue
            except DirectoryUnreachable as exc:
                last = exc
            except COMMUNICATION_ERRORS as exc:
                last = DirectoryUnreachable(f"the directory is unreachable: {exc}")
            tries -= 1
        assert last is not None
        raise last

    def close(self) -> None:
        providers = self._providers
        with providers.lock:
            idle, providers.idle = providers.idle, []
        for conn in idle:
            discard(conn)

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
            return _entry(conn.response[0]) if conn.response else None
        return self.call(operation)

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
            return [_entry(item) for item in conn.response or () if item.get("type") == "searchResEntry"]
        return self.call(operation)

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
                page += [_entry(item) for item in conn.response or () if item.get("type") == "searchResEntry"]
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
        self.call(operation)

    def add(self, dn: str, object_classes: Sequence[str], attributes: Mapping[str, object]) -> None:
        values = encode_values(attributes)
        self._write(dn, lambda conn: conn.add(dn, list(object_classes), values, controls=self._controls))

    def add_all(self, entries: Sequence[tuple[str, Sequence[str], Mapping[str, object]]]) -> None:
        """Add (DN, object classes, attributes) entries in one LDAP transaction: all of them
        or none (directory/batch.py). Raises batch.TransactionRefused naming the refused
        one, or DirectoryUnreachable when the outcome is unknown."""
        requests = [(dn, {"objectClass": list(classes), **encode_values(attributes)})
                    for dn, classes, attributes in entries]

        def operation(conn: ldap3.Connection) -> None:
            try:
                batch.add_all(conn, requests, self._controls or ())
            except batch.NoAnswer as exc:
                raise DirectoryUnreachable(str(exc)) from exc
        self.call(operation)

    def search_equal(self, base: str, attribute: str, values: Sequence[str],
                     attributes: Sequence[str]) -> list[Entry]:
        """Entries below base whose `attribute` equals one of `values`: one search, its
        filter encoded straight to BER (directory/batch.py), for lookups of many values."""
        def operation(conn: ldap3.Connection) -> list[Entry]:
            try:
                found = batch.search_equal(conn, base, attribute, values, attributes, self._controls or ())
            except batch.NoAnswer as exc:
                raise DirectoryUnreachable(str(exc)) from exc
            return [Entry(dn, attrs) for dn, attrs in found]
        return self.call(operation)

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
        is gone (upgraded meanwhile, or an admin set a new password)."""
        def upgrade(conn: ldap3.Connection) -> bool:
            return bool(conn.modify(dn, {
                "mgtPasswordUpgrade": [(ldap3.MODIFY_DELETE, ["TRUE"])],
                "userPassword": [(ldap3.MODIFY_REPLACE, [new_hash])],
            }))
        return self._as_self(dn, password, upgrade)

    def _as_self(self, dn: str, password: str, then: Callable[[ldap3.Connection], bool]) -> bool:
        """Bind as dn with password on a connection of its own; then(conn) if that worked."""
        if not password:
            return False  # an empty password would be an unauthenticated bind
        last: Exception | None = None
        for _ in self._providers.servers:
            index, server = self._providers.server()
            conn = ldap3.Connection(server, user=dn, password=password, raise_exceptions=False,
                                    receive_timeout=self._timeout)
            try:
                return bool(conn.bind()) and then(conn)
            except COMMUNICATION_ERRORS as exc:
                self._providers.failed(index)
                last = exc
            except lx.LDAPException as exc:
                raise map_error(exc, "bind") from exc
            finally:
                discard(conn)
        raise DirectoryUnreachable(f"the directory is unreachable: {last}")
