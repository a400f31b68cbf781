"""Two relays, each with its own spool and ports, sharing one directory and one SQL
store (PostgreSQL when the suite runs on it): the hourly send limit of an account is
one limit across both."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import manager
from mailgothai.stack.daemon import PythonService
from mailgothai.stack.process import greeting
from tests.conftest import free_port, stack_data_dir, stack_settings

pytestmark = pytest.mark.sql

PASSWORD = "Two-relays-pass-1"
SECOND = PythonService("relay2", ("relay", "run"))


@pytest.fixture(scope="module")
def two_relays() -> Iterator[tuple[Settings, Settings]]:
    with stack_data_dir("two-relays") as data_dir:
        first = manager.up(stack_settings(data_dir, relay_lookup_cache_ttl=0)).settings
        spool = Path(str(data_dir) + "-spool2")
        second = first.replace(smtp_port=free_port(), submission_port=free_port(), smtps_port=free_port(),
                               relay_spool_dir=str(spool))
        env = [("MAILGOTHAI_SMTP_PORT", str(second.smtp_port)),
               ("MAILGOTHAI_SUBMISSION_PORT", str(second.submission_port)),
               ("MAILGOTHAI_SMTPS_PORT", str(second.smtps_port)),
               ("MAILGOTHAI_RELAY_SPOOL_DIR", str(spool))]
        try:
            SECOND.start(first, lambda: greeting(second.host, second.submission_port, b"220"), extra_env=env)
            yield first, second
        finally:
            SECOND.stop(first)
            manager.down(first)


def send(settings: Settings, user: str, recipients: list[str]) -> dict[str, int]:
    """Submit one message over STARTTLS with AUTH; the reply code for each recipient."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the dev stack's self-signed certificate
    codes: dict[str, int] = {}
    with smtplib.SMTP(settings.host, settings.submission_port, timeout=60) as client:
        client.ehlo("client.test")
        client.starttls(context=context)
        client.ehlo("client.test")
        client.login(user, PASSWORD)
        client.mail(user)
        for rcpt in recipients:
            codes[rcpt] = client.rcpt(rcpt)[0]
        if any(code == 250 for code in codes.values()):
            client.data(f"From: <{user}>\r\nSubject: limit\r\n\r\nhello\r\n".encode())
        else:
            client.rset()
    return codes


def test_the_hourly_limit_holds_across_two_relays(two_relays: tuple[Settings, Settings]) -> None:
    first, second = two_relays
    assert first.spool_dir != second.spool_dir
    domain = f"h{uuid.uuid4().hex[:10]}.go.th"
    sender, others = f"sender@{domain}", [f"r{i}@{domain}" for i in range(6)]
    with Services.open(first, Actor("test", Role.SUPERADMIN, origin="test")) as services:
        services.domains.add(domain, hourly_send_limit="5")
        for address in (sender, *others):
            services.accounts.add(address, PasswordInput(plain=PASSWORD))

    on_first = send(first, sender, others[:3])
    assert list(on_first.values()) == [250, 250, 250]
    on_second = send(second, sender, others[3:])
    # 3 + 2 = 5 recipients this hour; the sixth is refused, whichever relay is asked.
    assert list(on_second.values()) == [250, 250, 452]
    assert send(first, sender, [others[0]]) == {others[0]: 452}
    assert second.spool_dir.is_dir()  # the second relay spooled in its own directory
