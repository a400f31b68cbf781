"""`stack down` asks whether our rspamd runs by the PID file its main process holds open.
A descriptor rspamd closes while /proc is read must not make the answer "not running":
`stack down` then skipped rspamd and left it running (seen in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.stack import protection
from mailgothai.stack.process import holds_open

HOLDER = "import sys, time; f = open(sys.argv[1]); sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(60)"


@pytest.fixture()
def fake_rspamd(tmp_path: Path) -> Iterator[tuple[protection.Paths, int]]:
    """A process named like rspamd's main process, holding its PID file open."""
    paths = protection.Paths(tmp_path)
    paths.rspamd_pid.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(["bash", "-c", f'exec -a "rspamd: main process" {sys.executable} -c "$0" "$1"',
                              HOLDER, str(paths.rspamd_pid.resolve())],
                             stdout=subprocess.PIPE, text=True)
    try:
        paths.rspamd_pid.write_text(f"{child.pid}\n")
        assert child.stdout is not None
        for _ in range(3):  # the file exists before the child opens it
            if child.stdout.readline().strip() == "ready":
                break
        yield paths, child.pid
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_rspamd_found_by_its_held_pid_file(fake_rspamd: tuple[protection.Paths, int], tmp_path: Path) -> None:
    paths, pid = fake_rspamd
    assert protection.rspamd_running(paths)
    assert holds_open(pid, paths.rspamd_pid.resolve())
    assert not holds_open(pid, tmp_path / "other")


def test_a_descriptor_closing_while_looked_at_does_not_hide_rspamd(
        fake_rspamd: tuple[protection.Paths, int], monkeypatch: pytest.MonkeyPatch) -> None:
    paths, pid = fake_rspamd
    real_readlink = os.readlink

    def closing_readlink(path: str, *args: object, **kwargs: object) -> str:
        if path == f"/proc/{pid}/fd/0":  # rspamd closed this one between listdir and readlink
            raise FileNotFoundError(path)
        return real_readlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "readlink", closing_readlink)
    assert protection.rspamd_running(paths)


def test_a_process_gone_is_not_running(tmp_path: Path) -> None:
    paths = protection.Paths(tmp_path)
    paths.rspamd_pid.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    paths.rspamd_pid.write_text(f"{child.pid}\n")
    assert not protection.rspamd_running(paths)
    assert not holds_open(child.pid, paths.rspamd_pid)
