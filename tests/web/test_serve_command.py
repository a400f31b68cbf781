"""`mailgothai --config FILE serve`, as deploy/systemd/mailgothai-web.service runs it: a
process of its own, on the session's stack, stopped by SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from mailgothai.settings import Settings
from tests.conftest import free_port


def mailgothai(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailgothai.cli.main", *args]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "serve exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("mailgothai serve did not listen within 60 s")


@contextmanager
def served(config: Path, cwd: Path, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`mailgothai --config CONFIG serve` on a free port, as systemd runs it: (the process,
    its port) once it listens; stopped by SIGTERM (its exit status is then in returncode)."""
    port = free_port()
    proc = subprocess.Popen(mailgothai("--config", str(config), "serve", "--port", str(port)),
                            env=env if env is not None else clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        wait_for_port(port, proc)
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()


def test_serve_is_a_command() -> None:
    listed = subprocess.run(mailgothai("--help"), capture_output=True, text=True, env=clean_env(), check=False)
    assert listed.returncode == 0 and "serve" in listed.stdout
    helped = subprocess.run(mailgothai("serve", "--help"), capture_output=True, text=True, env=clean_env(),
                            check=False)
    assert helped.returncode == 0 and "--port" in helped.stdout


def test_serve_with_a_config_file_answers_and_stops_on_sigterm(stack: Settings, tmp_path: Path) -> None:
    config = tmp_path / "etc" / "mailgothai.toml"  # like /etc/mailgothai/mailgothai.toml
    config.parent.mkdir()
    shutil.copy(stack.config_file, config)
    with served(config, tmp_path) as (proc, port):
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
        assert health.status_code == 200, health.text
        assert health.json() == {"status": "ok"}  # details only for an admin (tests/web/test_health_views.py)
        login = httpx.get(f"http://127.0.0.1:{port}/login", headers={"Accept-Language": "th"}, timeout=30)
        assert login.status_code == 200 and "เข้าสู่ระบบ" in login.text
    # uvicorn shuts down gracefully, then re-raises the signal: systemd counts an exit by
    # SIGTERM as a clean stop.
    code = proc.returncode
    assert code in (0, -signal.SIGTERM)


def test_serve_with_a_missing_config_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    done = subprocess.run(mailgothai("--config", str(missing), "serve"), capture_output=True, text=True,
                          env=clean_env(), check=False, timeout=60)
    assert done.returncode == 2 and "config" in done.stderr and str(missing) in done.stderr


def test_serve_with_a_store_it_cannot_reach_stops_at_start(stack: Settings, tmp_path: Path) -> None:
    """The SQL store is opened on first use (issue 16); the web uses it on every request, so
    `serve` still checks it before it listens: a wrong sql_url stops it at once, named."""
    config = tmp_path / "mailgothai.toml"
    unreachable = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    lines = [line for line in stack.config_file.read_text(encoding="utf-8").splitlines()
             if not line.startswith("sql_url")]
    config.write_text("\n".join([*lines, f'sql_url = "{unreachable}"', ""]), encoding="utf-8")
    port = free_port()
    done = subprocess.run(mailgothai("--config", str(config), "serve", "--port", str(port)), capture_output=True,
                          text=True, env=clean_env(), cwd=tmp_path, check=False, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "mailgothai: error:" in done.stderr and "store" in done.stderr.lower()
