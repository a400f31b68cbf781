"""Fixtures: a real slapd and Dovecot, started by the project's own stack code on free
loopback ports in a temporary directory, and stopped at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager

# Cheap argon2id parameters: the tests create many accounts. slapd verifies any
# parameters written in the hash, so nothing else changes.
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack_settings(data_dir: Path, **overrides: object) -> Settings:
    base = load_settings(data_dir=data_dir, environ={})
    return base.replace(ldap_port=free_port(), imap_port=free_port(), lmtp_port=free_port(),
                        smtp_port=free_port(), submission_port=free_port(), smtps_port=free_port(),
                        auth_cache_ttl=60, **CHEAP_ARGON2, **overrides)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One running stack for the whole session; tests use their own domains in it."""
    data_dir = tmp_path_factory.mktemp("stack")
    state = manager.up(stack_settings(data_dir))
    try:
        yield state.settings
    finally:
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
