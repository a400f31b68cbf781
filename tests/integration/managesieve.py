"""A ManageSieve (RFC 5804) client on a raw socket, for the tests that talk to Dovecot's
ManageSieve service: responses end in OK, NO or BYE."""

from __future__ import annotations

import socket
import ssl


class ManageSieve:
    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self.sock = sock
        self.buffer = b""

    def response(self) -> list[str]:
        lines: list[str] = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise ConnectionResetError(f"connection closed after {lines}")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode())
            if line.split(b" ", 1)[0] in (b"OK", b"NO", b"BYE"):
                return lines

    def command(self, text: str) -> list[str]:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.response()
