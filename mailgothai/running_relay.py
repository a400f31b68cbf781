"""The running relay of a data directory: found, and told to look again.

Which relay runs for a data directory, however it was started (`stack up`, the systemd
unit, by hand): the running relay holds an exclusive lock on `SPOOL/relay.lock` (the
spool defaults to `DATA/spool`), with
its PID inside, for its whole life. The kernel drops the lock when the process ends, even
by kill -9, so a file left behind says nothing and a reused PID cannot pass for the relay.

`relay health`, `queue retry|delete` and the services' notifications find the relay here
(the stack's own PID file is written only by `stack up`, and its command-line check
matched `--data-dir`, never the unit's `--config`). A second relay on the same spool
is refused at start.

`notify_relay` tells it to look again (SIGUSR1): it forgets its cached directory
answers, rescans its spool and reloads the DKIM keys (without it, all three are re-read
within seconds). This module sits below the services and the relay alike: both use it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path

from mailgothai.errors import StackError
from mailgothai.settings import Settings


def lock_path(settings: Settings) -> Path:
    """In the relay's spool: relays with spools of their own may share a data directory
    (tests/replication/test_two_relays.py); two on one spool may not."""
    return settings.spool_dir.resolve() / "relay.lock"


class RelayLock:
    """Held by the running relay; `release` at exit (the kernel does it on a crash)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def acquire(cls, settings: Settings) -> RelayLock:
        path = lock_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _pid_in(fd)
            os.close(fd)
            raise StackError(f"a relay already runs with the spool {settings.spool_dir}"
                             + (f" (pid {other})" if other else "")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = -1


def running_pid(settings: Settings) -> int | None:
    """The PID of the relay running with these settings' spool, or None."""
    try:
        fd = os.open(lock_path(settings), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: the relay is there (writing its PID, at its very start)
            for _ in range(100):
                pid = _pid_in(fd)
                if pid:
                    return pid
                time.sleep(0.001)
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)  # nobody held it: left by a relay that ended
        return None
    finally:
        os.close(fd)


def _pid_in(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def notify_relay(settings: Settings) -> bool:
    """True if a running relay was told."""
    pid = running_pid(settings)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:  # it ended just now
        return False
    return True
