"""Relay fixtures: the session stack's relay restarted with test settings (fast
retries, a fake remote "smarthost" on loopback, no directory caching), and helpers
to make domains and accounts for one test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import free_port

from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, save_settings
from mailgothai.stack import manager
from relay.helpers import PASSWORD


@dataclass
class FakeRemote:
    """An SMTP server on loopback standing in for the rest of the Internet. Each
    recipient can be given a script of replies (e.g. ["451 4.3.0 busy", "250 OK"]);
    without one it accepts."""

    scripts: dict[str, list[str]] = field(default_factory=dict)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    held: dict[str, threading.Event] = field(default_factory=dict)  # RCPT answered once the event is set
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        with self.lock:
            self.attempts[address] += 1
        gate = self.held.get(address)
        while gate is not None and not gate.is_set():
            await asyncio.sleep(0.05)
        with self.lock:
            script = self.scripts.get(address)
            answer = script.pop(0) if script and len(script) > 1 else (script[0] if script else "250 OK")
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 2.0.0 accepted by the fake remote"

    def messages_for(self, address: str) -> list[bytes]:
        with self.lock:
            return [data for _, rcpts, data in self.received if address in rcpts]


@pytest.fixture(scope="session")
def remote() -> Iterator[FakeRemote]:
    fake = FakeRemote()
    controller = Controller(fake, hostname="127.0.0.1", port=free_port())
    controller.start()
    fake.port = controller.port  # type: ignore[attr-defined]
    try:
        yield fake
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def relay(stack: Settings, remote: FakeRemote) -> Iterator[Settings]:
    """The stack's relay, restarted with settings for tests."""
    settings = stack.replace(relay_smarthost=f"127.0.0.1:{remote.port}",  # type: ignore[attr-defined]
                             relay_retry_base=1, relay_retry_max=2, relay_lookup_cache_ttl=0)
    save_settings(settings)
    manager.RELAY.stop(settings)
    manager.start_relay(settings)
    yield settings


@contextlib.contextmanager
def relay_with(relay: Settings, **overrides: object) -> Iterator[Settings]:
    """The stack's relay restarted with other settings; the test settings come back after."""
    settings = relay.replace(**overrides)
    save_settings(settings)
    manager.RELAY.stop(settings)
    manager.start_relay(settings)
    try:
        yield settings
    finally:
        save_settings(relay)
        manager.RELAY.stop(relay)
        manager.start_relay(relay)


def other_relay_settings(relay: Settings, data_dir: Path, **overrides: object) -> Settings:
    """Settings of another relay beside the stack's: `data_dir` (made here) and ports of
    its own; the same directory, SQL store, DKIM keys (linked) and certificate."""
    data_dir.mkdir(mode=0o700)
    os.symlink(relay.dkim_key_dir.resolve(), data_dir / "dkim")
    return relay.replace(data_dir=data_dir, smtp_port=free_port(), submission_port=free_port(),
                         smtps_port=free_port(), sql_url=relay.sql_url_effective,
                         tls_cert_file=str(relay.tls_cert_path.resolve()),
                         tls_key_file=str(relay.tls_key_path.resolve()), **overrides)


@contextlib.contextmanager
def second_relay(relay: Settings) -> Iterator[Settings]:
    """Another relay process beside the stack's (as on a second machine): its own
    ports, spool and memory; the same directory, SQL store, DKIM keys and certificate."""
    root = Path(tempfile.mkdtemp(prefix="mailgothai-relay2-"))
    settings = other_relay_settings(relay, root / "data")
    save_settings(settings)
    try:
        manager.start_relay(settings)
        yield settings
    finally:
        manager.RELAY.stop(settings)
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class MailDomain:
    name: str
    services: Services

    def account(self, local: str, **kwargs: object) -> str:
        address = f"{local}@{self.name}"
        self.services.accounts.add(address, PasswordInput(plain=PASSWORD), **kwargs)  # type: ignore[arg-type]
        return address


@pytest.fixture
def mail_domain(services: Services, relay: Settings) -> MailDomain:
    name = f"r{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(name, description="relay test")
    return MailDomain(name, services)
