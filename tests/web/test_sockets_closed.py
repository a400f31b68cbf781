"""Probing or using a directory that is not there (refused) or not answering LDAP (a
listener that accepts and hangs up, as a starting slapd can) leaves no socket open.

These were the unclosed sockets the garbage collector reported at random points of the
web tests: `stack/slapd.py: answers()` polling a starting slapd with auto_bind, which
leaves the socket of a failed open or bind behind."""

from __future__ import annotations

import gc
import socket
import threading
import warnings
from collections.abc import Callable, Iterator

import pytest

from mailgothai.directory.gateway import Gateway
from mailgothai.errors import DirectoryUnreachable
from mailgothai.stack import slapd


@pytest.fixture
def hangs_up() -> Iterator[int]:
    """A port whose listener accepts every connection and closes it at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    thread.join(timeout=5)


@pytest.fixture
def refused() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unclosed(action: Callable[[], object]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_probing_slapd_closes_its_socket(hangs_up: int, refused: int) -> None:
    for port in (hangs_up, refused):
        assert unclosed(lambda port=port: slapd.answers("127.0.0.1", port)) == []
    assert slapd.answers("127.0.0.1", refused) is False


def test_the_gateway_closes_connections_that_fail(hangs_up: int, refused: int) -> None:
    for port in (hangs_up, refused):
        gateway = Gateway([f"ldap://127.0.0.1:{port}"], "cn=app,ou=services,o=mailgothai", "secret", timeout=2)

        def use(gateway: Gateway = gateway) -> None:
            with pytest.raises(DirectoryUnreachable):
                gateway.read("o=mailgothai")
            with pytest.raises(DirectoryUnreachable):
                gateway.check_password("mail=a@b.go.th,o=mailgothai", "secret")
            with pytest.raises(DirectoryUnreachable):
                gateway.dedicated_connection()
            gateway.close()

        assert unclosed(use) == []
