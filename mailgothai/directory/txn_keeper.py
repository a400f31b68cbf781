"""Keeps an LDAP connection open while slapd commits a transaction, even if the process
that sent it dies.

Why: slapd 2.5.13 (servers/slapd/txn.c) runs a transaction's queued operations when it
gets End Transaction, and releases the connection's lock while it runs each one. If the
connection closes at that moment, its clean-up (connection_abandon) frees the operations
the commit is still running, and slapd crashes (a segfault in back_mdb or do_add, which
takes every login and delivery down with it). Closing while the adds are only queued is
harmless; only the commit is exposed, and it lasts tens of milliseconds a chunk.

Two causes are the project's to prevent:
- Its own code giving up on a slow answer: `batch.add_all` waits for End Transaction's
  answer for `END_WAIT` seconds, never the connection's short receive timeout.
- The process dying mid-commit (kill -9, the OOM killer, a stopped service): a process
  that uses transactions starts one keeper (this module run as a script, stdlib only, in a
  session of its own so a signal to the importer's process group does not reach it) and
  hands it a duplicate of the connection's socket (SCM_RIGHTS) before sending End
  Transaction. A descriptor in flight or held by the keeper keeps the connection open.
  After the answer the process tells the keeper to close its copy; if the process dies
  first, the keeper closes it once slapd has answered (the socket turns readable) or after
  `END_WAIT`, and then exits.

tests/importer/test_txn_keeper.py kills a process in the middle of a commit and checks
that slapd lives and holds the whole transaction.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

END_WAIT = 600.0  # seconds: End Transaction's answer is awaited this long, never less
HOLD, DONE, ABANDON = b"H", b"D", b"A"
MESSAGE = 9  # one byte of kind, eight of token


class Keeper:
    """This process's link to its keeper (started on first use; one per process)."""

    _lock = threading.Lock()
    _instance: Keeper | None = None

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._control = ours
        self._pid = os.getpid()
        self._send_lock = threading.Lock()
        self._next = 0

    @classmethod
    def get(cls) -> Keeper | None:
        """The keeper of this process, started if need be; None if it cannot be started
        (then transactions go on without it, and a death mid-commit can crash slapd)."""
        with cls._lock:
            keeper = cls._instance
            if keeper is not None and keeper._pid == os.getpid() and keeper._proc.poll() is None:
                return keeper
            try:
                cls._instance = keeper = cls()
            except OSError as exc:
                log.warning("no transaction keeper (%s): a crash mid-commit can take slapd down", exc)
                cls._instance = None
            return keeper

    def hold(self, sock: socket.socket) -> int | None:
        """Give the keeper a copy of `sock`; the token to release it with (None if the
        keeper is gone: the caller goes on without it)."""
        with self._send_lock:
            self._next += 1
            token = self._next
            try:
                socket.send_fds(self._control, [HOLD + token.to_bytes(8, "big")], [sock.fileno()])
            except OSError as exc:
                log.warning("the transaction keeper took no socket (%s)", exc)
                return None
        return token

    def release(self, token: int | None, *, answered: bool) -> None:
        """The commit is answered (the keeper closes its copy now) or was given up on
        (the keeper closes it once slapd answers, or after END_WAIT)."""
        if token is None:
            return
        with self._send_lock:
            try:
                self._control.send((DONE if answered else ABANDON) + token.to_bytes(8, "big"))
            except OSError as exc:
                log.warning("the transaction keeper is gone (%s)", exc)


def serve(control: socket.socket, end_wait: float = END_WAIT) -> None:
    """The keeper's loop: hold sockets until told, or until slapd answers once the
    process that sent them is gone; return when nothing is held and it is gone."""
    held: dict[int, socket.socket] = {}
    waiting: dict[int, tuple[socket.socket, float]] = {}  # fd -> (socket, deadline)
    poller = select.poll()
    poller.register(control, select.POLLIN)
    open_ = True

    def wait_for_answer(sock: socket.socket) -> None:
        waiting[sock.fileno()] = (sock, time.monotonic() + end_wait)
        poller.register(sock, select.POLLIN)

    while open_ or waiting:
        now = time.monotonic()
        soonest = min((deadline for _, deadline in waiting.values()), default=now + 60)
        for fd, _event in poller.poll(max(0, int((soonest - now) * 1000)) + 1):
            if fd == control.fileno():
                try:
                    message, fds, _flags, _addr = socket.recv_fds(control, MESSAGE, 1)
                except OSError:
                    message, fds = b"", []
                if not message:  # the process is gone: what it held waits for its answer
                    poller.unregister(control)
                    open_ = False
                    for sock in held.values():
                        wait_for_answer(sock)
                    held.clear()
                    continue
                kind, token = message[:1], int.from_bytes(message[1:], "big")
                if kind == HOLD and fds:
                    held[token] = socket.socket(fileno=fds[0])
                elif kind == DONE and token in held:
                    held.pop(token).close()
                elif kind == ABANDON and token in held:
                    wait_for_answer(held.pop(token))
            elif fd in waiting:  # slapd answered (or closed): the commit is over
                poller.unregister(fd)
                waiting.pop(fd)[0].close()
        now = time.monotonic()
        for fd in [fd for fd, (_, deadline) in waiting.items() if deadline <= now]:
            poller.unregister(fd)
            waiting.pop(fd)[0].close()
    control.close()


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
