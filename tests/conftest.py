"""Fixtures: a real slapd and Dovecot, started by the project's own stack code on free
loopback ports in a temporary directory, and stopped at the end."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
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
    # Inbound protection (rspamd, Redis, clamd) only for the tests that ask for it
    # (protection=1): every other test's MX behaves as before, and no stack waits on them.
    overrides = {"login_refusal_base": 3600, "login_refusal_max": 3600, "protection": 0, **overrides}
    return base.replace(ldap_port=free_port(), imap_port=free_port(), imaps_port=free_port(),
                        lmtp_port=free_port(), managesieve_port=free_port(),
                        smtp_port=free_port(), submission_port=free_port(), smtps_port=free_port(),
                        web_port=free_port(), auth_policy_port=free_port(),
                        rspamd_port=free_port(), rspamd_controller_port=free_port(), redis_port=free_port(),
                        relay_metrics_port=free_port(), dovecot_metrics_port=free_port(),
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


def _as_a_subprocess_reads(data: bytes) -> str:
    """What `subprocess.run(..., text=True)` makes of a child's output: decoded, and its
    line ends made universal."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


class _LastResort(logging.StreamHandler[io.TextIOWrapper]):
    """What a process of its own does with a warning or an error logged while no handler is
    set (logging.lastResort): the bare message on standard error. In pytest's process the
    root logger has pytest's handlers, so the in-process run adds this one: for records of
    the running command's thread and of threads it started, not of threads running before
    it (a live web app's)."""

    def __init__(self, stream: io.TextIOWrapper) -> None:
        super().__init__(stream)
        self.setLevel(logging.WARNING)
        self.command = threading.get_ident()
        self.before = {t.ident for t in threading.enumerate()}

    def filter(self, record: logging.LogRecord) -> bool:
        return (record.thread == self.command or record.thread not in self.before) and bool(super().filter(record))


def run_main(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mailgothai ARGV` run by `mailgothai.cli.main.main(argv)` in this process, seen as the
    subprocess saw it: no MAILGOTHAI_* variables in the environment, standard input given (or
    empty), standard output and error captured as pipes would be (not terminals: no rich, the
    width of help text 80 columns), a warning logged by the command on standard error as
    Python prints it when no handler is set, SystemExit and exit codes as the return code,
    a traceback on standard error and 1 for an exception that escapes main. What the command changes in
    the process (the umask, the environment, the working directory, the standard streams)
    is put back afterwards."""
    from mailgothai.cli.main import main

    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    # as Python sets up the standard streams of a process whose output is a pipe (UTF-8 here)
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", newline="\n")
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="backslashreplace", newline="\n",
                           line_buffering=True)
    given = io.TextIOWrapper(io.BytesIO((stdin or "").encode("utf-8")), encoding="utf-8", newline="\n")
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_env = {k: v for k, v in os.environ.items() if k.startswith("MAILGOTHAI_")}
    sizes = {k: os.environ.get(k) for k in ("COLUMNS", "LINES")}
    saved_cwd = os.getcwd()
    saved_umask = os.umask(0o077)
    os.umask(saved_umask)
    for key in saved_env:
        del os.environ[key]
    if sizes["COLUMNS"] is None and sizes["LINES"] is None:
        # a child whose output is a pipe finds no terminal size: argparse wraps at 80 columns
        os.environ.update(COLUMNS="80", LINES="24")
    sys.stdin, sys.stdout, sys.stderr = given, out, err
    last_resort = _LastResort(err)
    logging.getLogger().addHandler(last_resort)
    try:
        try:
            code: object = main(argv)
        except SystemExit as exc:
            code = exc.code
        except Exception:  # escaped main: Python would print the traceback and exit 1
            traceback.print_exc()
            code = 1
        if code is None:
            returncode = 0
        elif isinstance(code, int):
            returncode = code
        else:  # SystemExit("message"): printed, exit 1
            print(code, file=sys.stderr)
            returncode = 1
        out.flush()
        err.flush()
        stdout, stderr = _as_a_subprocess_reads(out_bytes.getvalue()), _as_a_subprocess_reads(err_bytes.getvalue())
    finally:
        logging.getLogger().removeHandler(last_resort)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for key, value in sizes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        os.umask(saved_umask)
    return subprocess.CompletedProcess(["mailgothai", *argv], returncode, stdout, stderr)


class Cli:
    """The `mailgothai` command against a stack's data directory, run in this process by
    `main(argv)` (run_main): what a test sees is what the separate process gives, without
    its start (imports) paid on every call. `cli_process` runs the real separate process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_main(["--data-dir", str(self.settings.data_dir), *args], stdin=stdin)


class CliProcess(Cli):
    """The real `mailgothai` command, run as a separate process: for what only a process
    shows (its exit status, its own standard streams, its start), and for tests that
    signal or kill it."""

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
        return subprocess.run(
            [sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(self.settings.data_dir), *args],
            input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False,
        )


@pytest.fixture
def cli(stack: Settings) -> Cli:
    return Cli(stack)


@pytest.fixture
def cli_process(stack: Settings) -> CliProcess:
    return CliProcess(stack)
