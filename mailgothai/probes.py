"""Is something answering at host:port: the checks that `stack`, the relay's health and
the services' health share (below all of them: they only open a socket)."""

from __future__ import annotations

import socket


def greeting(host: str, port: int, expect: bytes, timeout: float = 2.0) -> bool:
    """True when a TCP server at host:port answers with a line starting `expect`."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(256).startswith(expect)
    except OSError:
        return False


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
