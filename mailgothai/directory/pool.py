"""The directory servers of one process: which provider it talks to now, bound
connections to it kept in a small pool, and failing over to the next provider.

Writes must go to one provider at a time (two providers changing one entry at once can
lose a change; see STACK-NOTES), so the choice is sticky: every connection goes to the
current server until it fails (refused, reset, or silent past the receive timeout, as a
hung slapd is), then the next one in order becomes current and stays current, also
after the first returns. ldap3's ServerPool is not used: FIRST never leaves a hung
server and ROUND_ROBIN is not sticky. The operations are gateway.py's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.directory.results import COMMUNICATION_ERRORS, map_error
from mailgothai.errors import AlreadyExists, DirectoryError, DirectoryUnreachable, NotFound, ValueChanged

# The server closed the connection (not: refused, or silent past the timeout).
CLOSED_BY_SERVER = (lx.LDAPSocketReceiveError, lx.LDAPSocketSendError, lx.LDAPSessionTerminatedByServerError,
                    lx.LDAPSocketCloseError)

T = TypeVar("T")


class DroppedWhileIdle(DirectoryUnreachable):
    """A pooled connection the server had closed while it was idle (slapd restarted)."""


def _closed_by_server(exc: BaseException) -> bool:
    """ldap3 reports a receive timeout as a receive error too (its class then also derives
    from TimeoutError): a silent server is not a closed connection, and is not retried."""
    for error in (exc, exc.__cause__):
        if isinstance(error, CLOSED_BY_SERVER) and not isinstance(error, TimeoutError):
            return True
    return False


def discard(conn: ldap3.Connection) -> None:
    """Unbind and close, also when the server is gone (then unbind fails half-way and
    would leave the socket open)."""
    with contextlib.suppress(Exception):
        conn.unbind()
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


class ProviderPool:
    """The providers (in the order of the settings), the current one, and the idle bound
    connections to it; shared by a gateway and its acting_as() copies."""

    def __init__(self, uris: Sequence[str], bind_dn: str, password: str, timeout: int, pool_size: int) -> None:
        if not uris:
            raise DirectoryError("no directory URI configured")
        self.timeout = int(timeout)
        self.servers = [ldap3.Server(uri, connect_timeout=self.timeout, get_info=ldap3.NONE) for uri in uris]
        self.current = 0
        self.failovers = 0  # moves to the next provider, for the relay's metrics
        self.idle: list[ldap3.Connection] = []
        self.pool_size = pool_size
        self.lock = threading.Lock()
        self._bind_dn = bind_dn
        self._password = password

    # ---- which provider ---------------------------------------------------------
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
                self.failovers += len(self.servers) > 1
                stale, self.idle = self.idle, []
            else:
                stale = []
        for conn in stale:
            discard(conn)

    @property
    def current_uri(self) -> str:
        """The provider this process sends its operations to now."""
        server = self.server()[1]
        return f"{'ldaps' if server.ssl else 'ldap'}://{server.host}:{server.port}"

    # ---- connections ------------------------------------------------------------
    def open(self, receive_timeout: int | None = None) -> tuple[int, ldap3.Connection]:
        """A bound connection to the current server, failing over to the next ones."""
        last: Exception | None = None
        for _ in self.servers:
            index, server = self.server()
            conn = ldap3.Connection(
                server, user=self._bind_dn, password=self._password, raise_exceptions=True,
                receive_timeout=receive_timeout or self.timeout, auto_referrals=False,
                return_empty_attributes=False,
                check_names=False,  # only raw_attributes are read: skip ldap3's formatting pass
            )
            try:
                conn.open()
                conn.bind()
                return index, conn
            except COMMUNICATION_ERRORS as exc:
                discard(conn)
                self.failed(index)
                last = exc
            except lx.LDAPException as exc:
                discard(conn)
                raise map_error(exc, "bind") from exc
        raise DirectoryUnreachable(f"the directory is unreachable: {last}")

    @contextlib.contextmanager
    def connection(self) -> Iterator[ldap3.Connection]:
        """A pooled connection to the current provider. A communication failure inside
        the block marks that provider failed (the next call goes to the next one); use
        call() for an operation that should be retried there at once."""
        with self.lock:
            conn = self.idle.pop() if self.idle else None
            index = self.current
        pooled = conn is not None
        if conn is None:
            index, conn = self.open()
        healthy = False
        try:
            yield conn
            healthy = True
        except (NotFound, AlreadyExists, ValueChanged):
            healthy = True  # the server answered: the connection is fine
            raise
        except (DirectoryUnreachable, *COMMUNICATION_ERRORS) as exc:
            self.failed(index)
            if pooled and _closed_by_server(exc):
                raise DroppedWhileIdle(f"the directory closed an idle connection: {exc}") from exc
            raise
        finally:
            with self.lock:
                if (healthy and not conn.closed and index == self.current
                        and len(self.idle) < self.pool_size):
                    self.idle.append(conn)
                    conn = None
            if conn is not None:
                discard(conn)

    def call(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run operation on a pooled connection; if the provider fails under it, run it
        again on the next provider (each provider tried once). A pooled connection the
        server had closed while idle (slapd restarted) does not count as a try: the
        operation runs again on a fresh connection (the failure emptied the pool)."""
        last: Exception | None = None
        tries, dropped = len(self.servers), self.pool_size + 1
        while tries > 0:
            try:
                with self.connection() as conn:
                    return operation(conn)
            except DroppedWhileIdle as exc:
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

    def bind_as(self, dn: str, password: str, then: Callable[[ldap3.Connection], bool]) -> bool:
        """Bind as dn with password on a connection of its own, failing over like the
        others; then(conn) if that worked."""
        if not password:
            return False  # an empty password would be an unauthenticated bind
        last: Exception | None = None
        for _ in self.servers:
            index, server = self.server()
            conn = ldap3.Connection(server, user=dn, password=password, raise_exceptions=False,
                                    receive_timeout=self.timeout)
            try:
                return bool(conn.bind()) and then(conn)
            except COMMUNICATION_ERRORS as exc:
                self.failed(index)
                last = exc
            except lx.LDAPException as exc:
                raise map_error(exc, "bind") from exc
            finally:
                discard(conn)
        raise DirectoryUnreachable(f"the directory is unreachable: {last}")

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for conn in idle:
            discard(conn)
