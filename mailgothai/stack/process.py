"""Starting, watching and stopping the stack's daemons by PID (never by name)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailgothai.errors import StackError
from mailgothai.probes import greeting as greeting
from mailgothai.probes import port_open as port_open
from mailgothai.stack.private import UMASK, private_opener


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None
    running: bool


def run_tool(cmd: Sequence[str], *, input_text: str | None = None, what: str = "") -> str:
    """Run a command to completion; a non-zero exit becomes a StackError with its stderr."""
    try:
        done = subprocess.run(list(cmd), input=input_text, capture_output=True, text=True, check=False,
                              umask=UMASK)
    except FileNotFoundError as exc:
        raise StackError(f"{cmd[0]} is not installed (see README: the set-up command installs it)") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise StackError(f"{what or cmd[0]} failed (exit {done.returncode}): {detail}")
    return done.stdout


def start_daemon(cmd: Sequence[str], log_file: Path, what: str) -> None:
    """Run a daemon that forks into the background; its start-up output goes to log_file.

    Pipes would stay open in the detached daemon, so its output never goes to one.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(log_file, "ab", opener=private_opener) as log:
        try:
            done = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  check=False, timeout=60, umask=UMASK)
        except FileNotFoundError as exc:
            raise StackError(f"{cmd[0]} is not installed (see README: the set-up command installs it)") from exc
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"{what} did not detach within 60 s") from exc
    if done.returncode != 0:
        tail = log_file.read_text(errors="replace")[-2000:].strip()
        raise StackError(f"{what} failed to start (exit {done.returncode}): {tail}")


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def is_running(pid: int | None, marker: str) -> bool:
    """True if `pid` is alive and its command line holds `marker` (guards against PID reuse)."""
    if not pid or _is_zombie(pid):
        return False
    return marker in _cmdline(pid)


def holds_open(pid: int, path: Path) -> bool:
    """True if `pid` has `path` open. Descriptor by descriptor: one the process closes
    while we look is skipped, never taken for the whole answer."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    wanted = str(path)
    for name in names:
        try:
            if os.readlink(f"{fd_dir}/{name}") == wanted:
                return True
        except OSError:
            continue
    return False


def children_of(pid: int) -> list[int]:
    """Direct and indirect children of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents[int(entry.name)] = ppid
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == current]
        found.extend(kids)
        frontier.extend(kids)
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_pid(pid: int | None, marker: str, timeout: float = 20.0) -> None:
    """SIGTERM the process if it is ours, wait for it; SIGKILL if it will not go."""
    if not is_running(pid, marker):
        return
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    try:
        wait_until(lambda: not is_running(pid, marker), timeout, f"pid {pid} to exit")
    except StackError:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not is_running(pid, marker), 5.0, f"pid {pid} to die")


def require_free(host: str, *ports: int) -> None:
    """Refuse to start when something else already listens where we would."""
    for port in ports:
        if port_open(host, port):
            raise StackError(f"{host}:{port} is already in use by another program; choose another port "
                             "(stack up --*-port, or MAILGOTHAI_*_PORT)")
