"""The stack's own Python services (`mailgothai relay`, `mailgothai serve`) run as
background processes: started detached, found again by PID file, stopped by PID.

slapd and Dovecot daemonise themselves; these do not, so this module detaches them
(a new session, output to a log file) and writes their PID file itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailgothai.errors import StackError
from mailgothai.settings import Settings
from mailgothai.stack.private import UMASK, private_opener
from mailgothai.stack.process import ProcessStatus, is_running, read_pid, stop_pid

# Children started by this process, kept so they can be reaped when stopped (and so
# no Popen is garbage-collected while its process still runs: a ResourceWarning).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class PythonService:
    """One `mailgothai --data-dir DATA <command...>` process of the stack."""

    name: str  # "relay", "web": also the PID and log file names
    command: tuple[str, ...]  # the CLI words after the global options, e.g. ("relay",)

    def pid_file(self, settings: Settings) -> Path:
        return settings.data_dir.resolve() / "run" / f"{self.name}.pid"

    def log_file(self, settings: Settings) -> Path:
        return settings.data_dir.resolve() / "log" / f"{self.name}.log"

    def argv(self, settings: Settings) -> list[str]:
        return [sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(settings.data_dir.resolve()),
                *self.command]

    def marker(self, settings: Settings) -> str:
        """What the process's command line must contain to be ours (guards PID reuse)."""
        return " ".join(self.argv(settings)[2:])

    def status(self, settings: Settings) -> ProcessStatus:
        pid = read_pid(self.pid_file(settings))
        return ProcessStatus(self.name, pid, is_running(pid, self.marker(settings)))

    def start(self, settings: Settings, ready: Callable[[], bool], timeout: float = 30.0,
              extra_env: Sequence[tuple[str, str]] = ()) -> int:
        """Start the service unless it runs; wait until `ready()` or its early death."""
        for pid, child in list(_children.items()):
            if child.poll() is not None:  # exited (or was killed): reaped now
                del _children[pid]
        current = self.status(settings)
        if current.running:
            assert current.pid is not None
            return current.pid
        pid_file, log_file = self.pid_file(settings), self.log_file(settings)
        for directory in (pid_file.parent, log_file.parent):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = dict(os.environ)
        env.update(extra_env)
        with open(log_file, "ab", opener=private_opener) as log:
            proc = subprocess.Popen(self.argv(settings), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True, env=env, umask=UMASK)
        _children[proc.pid] = proc
        tmp = pid_file.with_suffix(".tmp")
        with open(tmp, "w", opener=private_opener) as out:
            out.write(f"{proc.pid}\n")
        os.replace(tmp, pid_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pid_file.unlink(missing_ok=True)
                tail = log_file.read_text(errors="replace")[-2000:].strip()
                raise StackError(f"{self.name} exited at start (exit {proc.returncode}): {tail}")
            if ready():
                return proc.pid
            time.sleep(0.05)
        self.stop(settings)
        raise StackError(f"timed out after {timeout:.0f} s waiting for {self.name} to answer; see {log_file}")

    def stop(self, settings: Settings) -> None:
        pid_file = self.pid_file(settings)
        pid = read_pid(pid_file)
        stop_pid(pid, self.marker(settings))
        child = _children.pop(pid, None) if pid else None
        if child is not None:
            child.wait()  # reap it
        pid_file.unlink(missing_ok=True)
