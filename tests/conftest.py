"""Fixtures: a real slapd and Dovecot, started by the project's own stack code on free
loopback ports in a temporary directory, and stopped at the end."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager
from tests import pgcluster

# Cheap argon2id parameters: the tests create many accounts. slapd verifies any
# parameters written in the hash, so nothing else changes.
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port free now, below the kernel's ephemeral range: the kernel gives
    outgoing connections ephemeral ports, so one of those (any client in the session)
    cannot take it between this choice and the daemon's bind, as happened with port 0.
    Never the same port twice in a session."""
    ports = range(20000, max(20001, _ephemeral_start()))
    while True:
        port = random.choice(ports)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def stack_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a stack of its own: free ports, cheap hashing, and, when the suite runs
    against PostgreSQL (MAILGOTHAI_TEST_SQL=postgresql), a new database of its own."""
    base = load_settings(data_dir=data_dir, environ={})
    if pgcluster.wanted() and "sql_url" not in overrides:
        overrides["sql_url"] = pgcluster.cluster().new_database()
    # A source refused after failed logins stays refused longer than any test runs
    # (core/login_budget.py): no test depends on the machine's speed.
    overrides = {"login_refusal_base": 3600, "login_refusal_max": 3600, **overrides}
    return base.replace(ldap_port=free_port(), imap_port=free_port(), imaps_port=free_port(),
                        lmtp_port=free_port(),
                        smtp_port=free_port(), submission_port=free_port(), smtps_port=free_port(),
                        web_port=free_port(), auth_policy_port=free_port(),
                        auth_cache_ttl=60, **CHEAP_ARGON2, **overrides)


@contextlib.contextmanager
def stack_data_dir(name: str = "stack") -> Iterator[Path]:
    """A fresh data directory for a stack, removed afterwards.

    Not under pytest's tmp_path: its root (/tmp/pytest-of-USER) is 0700 and every new
    pytest session (another test run on the machine) resets it to 0700, which takes
    away the search permission Dovecot's mail user needs to reach the mail root.
    """
    path = Path(tempfile.mkdtemp(prefix=f"mailgothai-{name}-"))
    try:
        yield path / "data"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fresh_data_dir() -> Iterator[Path]:
    """A data directory of its own, for a test that starts and stops its own stack."""
    with stack_data_dir("own") as path:
        yield path


@pytest.fixture(scope="session", autouse=True)
def _private_postgresql() -> Iterator[None]:
    """Stops the private PostgreSQL cluster, if the session started one."""
    yield
    pgcluster.stop()


_WATCHED_SLAPD: dict[int, str] = {}  # pid -> which, for the session's stack


def _alive(pid: int) -> bool:
    """Running, and not a zombie its parent has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@pytest.fixture(autouse=True)
def _directory_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """Ends the session, naming the test, if the session stack's slapd died during it:
    every later test would only fail to connect (hundreds of errors that hide the cause)."""
    yield
    dead = [which for pid, which in _WATCHED_SLAPD.items() if not _alive(pid)]
    if dead:
        _WATCHED_SLAPD.clear()
        pytest.exit(f"{', '.join(dead)} died during {request.node.nodeid} (the kernel log may show a "
                    "segfault); stopping here", returncode=1)


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """One running stack for the whole session; tests use their own domains in it."""
    with stack_data_dir() as data_dir:
        state = manager.up(stack_settings(data_dir))
        for process in state.processes:
            if process.name.startswith("slapd") and process.pid:
                _WATCHED_SLAPD[process.pid] = f"{process.name} (pid {process.pid}) of the session's stack"
        try:
            yield state.settings
        finally:
            _WATCHED_SLAPD.clear()
            manager.down(state.settings)


@pytest.fixture
def services(stack: Settings) -> Iterator[Services]:
    with Services.open(stack, Actor("test-operator", Role.SUPERADMIN, origin="test")) as svc:
        yield svc


@pytest.fixture
def domain(services: Services) -> str:
    """A fresh domain of its own for one test."""
    name = f"t{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(name, description="test")
    return name


class Cli:
    """The real `mailgothai` command, run as a separate process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
        return subprocess.run(
            [sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(self.settings.data_dir), *args],
            input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False,
        )


@pytest.fixture
def cli(stack: Settings) -> Cli:
    return Cli(stack)
