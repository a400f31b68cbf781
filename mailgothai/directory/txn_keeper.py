"""Keeps an LDAP connection open while slapd commits a transaction, even if the process
that sent it dies.

Why: slapd 2.5.13 (servers/slapd/txn.c) runs a transaction's queued operations when it
gets End Transaction, and releases the connection's lock while it runs each one. If the
connection closes at that moment, its clean-up (connection_abandon) frees the operations
the commit is still running, and slapd crashes (a segfault in back_mdb or do_add, which
takes every login and delivery down with it). The same happens while slapd's threads are
still queueing the adds (each thread touches its operation after answering "queued").

Two causes are the project's to prevent:
- Its own code giving up on a slow answer: `batch.add_all` waits for End Transaction's
  answer for `END_WAIT` seconds, never the connection's short receive timeout.
- The process dying mid-transaction (kill -9, the OOM killer, a stopped service): a
  process that uses transactions starts one keeper (this module run as a script, stdlib
  only, in a session of its own so a signal to the importer's process group does not
  reach it) and hands it a duplicate of the connection's socket (SCM_RIGHTS) once the
  transaction has started, before the adds are sent. A descriptor in flight or held by
  the keeper keeps the connection open. After End Transaction's answer the process tells
  the keeper to close its copy. If the process dies first, the keeper reads and drops
  what slapd still sends and closes the socket once slapd has been quiet for `QUIET`
  seconds (after End Transaction's answer, if it was sent), or after `END_WAIT`.

tests/integration/test_txn_keeper.py kills a process right after it sent End Transaction
(all written, slapd alive) and right after it sent the adds (nothing written, slapd
alive); without the keeper slapd crashed in both (2 runs of 2, 2 of 3).
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
HOLD, ENDING, DONE, ABANDON = b"H", b"E", b"D", b"A"
QUIET = 1.0  # seconds without a byte from slapd after which a dead process's connection is closed
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

    def ending(self, token: int | None) -> None:
        """End Transaction is about to be sent: if this process dies now, the keeper
        waits for its answer (slapd is committing) before it waits for quiet."""
        if token is None:
            return
        with self._send_lock:
            try:
                self._control.send(ENDING + token.to_bytes(8, "big"))
            except OSError as exc:
                log.warning("the transaction keeper is gone (%s)", exc)

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


def serve(control: socket.socket, end_wait: float = END_WAIT, quiet: float = QUIET) -> None:
    """The keeper's loop: hold sockets until told; once the process that sent them is
    gone, read and drop what slapd still sends and close each socket when it has been
    quiet for `quiet` seconds — after End Transaction's answer if it was sent — or after
    `end_wait`; return when nothing is held and the process is gone."""
    held: dict[int, tuple[socket.socket, bool]] = {}  # token -> (socket, End Transaction sent)
    waiting: dict[int, tuple[socket.socket, float, float | None]] = {}  # fd -> (socket, deadline, quiet from)
    poller = select.poll()
    poller.register(control, select.POLLIN)
    open_ = True

    def wait_out(sock: socket.socket, ending: bool) -> None:
        now = time.monotonic()
        waiting[sock.fileno()] = (sock, now + end_wait, None if ending else now + quiet)
        poller.register(sock, select.POLLIN)

    def close(fd: int) -> None:
        poller.unregister(fd)
        waiting.pop(fd)[0].close()

    while open_ or waiting:
        now = time.monotonic()
        soonest = min((min(deadline, calm or deadline) for _, deadline, calm in waiting.values()), default=now + 60)
        for fd, _event in poller.poll(max(0, int((soonest - now) * 1000)) + 1):
            if fd == control.fileno():
                try:
                    message, fds, _flags, _addr = socket.recv_fds(control, MESSAGE, 1)
                except OSError:
                    message, fds = b"", []
                if not message:  # the process is gone: what it held is waited out
                    poller.unregister(control)
                    open_ = False
                    for sock, ending in held.values():
                        wait_out(sock, ending)
                    held.clear()
                    continue
                kind, token = message[:1], int.from_bytes(message[1:], "big")
                if kind == HOLD and fds:
                    held[token] = (socket.socket(fileno=fds[0]), False)
                elif kind == ENDING and token in held:
                    held[token] = (held[token][0], True)
                elif kind == DONE and token in held:
                    held.pop(token)[0].close()
                elif kind == ABANDON and token in held:
                    wait_out(*held.pop(token))
            elif fd in waiting:  # slapd sent something (answers nobody reads now) or closed
                sock, deadline, _calm = waiting[fd]
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    close(fd)
                else:
                    waiting[fd] = (sock, deadline, time.monotonic() + quiet)
        now = time.monotonic()
        for fd in [fd for fd, (_, deadline, calm) in waiting.items()
                   if deadline <= now or (calm is not None and calm <= now)]:
            close(fd)
    control.close()


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
