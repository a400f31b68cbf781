"""Real clients for the relay tests: smtplib over STARTTLS / implicit TLS, IMAP, swaks,
and the independent DKIM verifiers (Perl Mail::DKIM, dkimpy)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import smtplib
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import dkim
from imapclient import IMAPClient

from mailgothai.settings import Settings

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
PASSWORD = "Relay-Test-pass-1"


def tls_client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the dev stack's certificate is self-signed
    return context


def submission(settings: Settings, user: str | None = None, password: str = PASSWORD) -> smtplib.SMTP:
    client = smtplib.SMTP(settings.host, settings.submission_port, timeout=30)
    client.ehlo("client.test")
    client.starttls(context=tls_client_context())
    client.ehlo("client.test")
    if user:
        client.login(user, password)
    return client


def auth_code(settings: Settings, user: str, password: str) -> int:
    """235 if the relay lets `user` in with `password` over submission, else the refusal's code."""
    with submission(settings) as client:
        try:
            return client.login(user, password)[0]
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code


def plain_submission(settings: Settings) -> smtplib.SMTP:
    """The submission port without STARTTLS (to show what a client without TLS gets)."""
    client = smtplib.SMTP(settings.host, settings.submission_port, timeout=30)
    client.ehlo("client.test")
    return client


def smtps(settings: Settings, user: str | None = None, password: str = PASSWORD) -> smtplib.SMTP_SSL:
    client = smtplib.SMTP_SSL(settings.host, settings.smtps_port, timeout=30, context=tls_client_context())
    client.ehlo("client.test")
    if user:
        client.login(user, password)
    return client


def mx(settings: Settings) -> smtplib.SMTP:
    client = smtplib.SMTP(settings.host, settings.smtp_port, timeout=30)
    client.ehlo("mx.remote.test")
    return client


def message(sender: str, to: str, subject: str = "test", body: str = "hello\r\n", extra: str = "") -> bytes:
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@test>\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\n"
            f"{extra}\r\n{body}").encode()


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """Poll until check() gives a true value (a correctness bound, not a speed test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def fetch_all(settings: Settings, user: str, password: str = PASSWORD) -> list[bytes]:
    with IMAPClient(settings.host, port=settings.imap_port, ssl=False, timeout=30) as imap:
        imap.login(user, password)
        imap.select_folder("INBOX", readonly=True)
        ids = imap.search("ALL")
        if not ids:
            return []
        data = imap.fetch(ids, ["RFC822"])
        return [data[i][b"RFC822"] for i in sorted(data)]


def wait_for_messages(settings: Settings, user: str, count: int = 1, password: str = PASSWORD,
                      timeout: float = 60.0) -> list[bytes]:
    def enough() -> list[bytes] | None:
        got = fetch_all(settings, user, password)
        return got if len(got) >= count else None

    return wait_for(enough, f"{count} message(s) in {user}'s INBOX", timeout)


@dataclass(frozen=True)
class PerlResult:
    lines: list[str]
    overall: str


def perl_verify(message_bytes: bytes, records: dict[str, str], tmp: Path) -> PerlResult:
    msg_file, rec_file = tmp / f"msg-{uuid.uuid4().hex}.eml", tmp / f"rec-{uuid.uuid4().hex}.txt"
    msg_file.write_bytes(message_bytes)
    rec_file.write_text("".join(f"{name}\t{text}\n" for name, text in records.items()))
    done = subprocess.run(["perl", str(HERE / "dkim_verify.pl"), str(msg_file), str(rec_file)],
                          capture_output=True, text=True, check=True, timeout=60)
    lines = done.stdout.strip().splitlines()
    return PerlResult(lines[:-1], lines[-1].removeprefix("overall: "))


def dkimpy_verify(message_bytes: bytes, records: dict[str, str], index: int) -> bool:
    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        text = records.get(name.decode().rstrip("."))
        return text.encode() if text else None

    return bool(dkim.DKIM(message_bytes).verify(idx=index, dnsfunc=dnsfunc))


def swaks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["swaks", *args], capture_output=True, text=True, timeout=120, check=False)


def reload_relay(settings: Settings) -> None:
    """Make the running relay reload its DKIM keys and rescan its spool, and wait until it has."""
    from mailgothai.running_relay import notify_relay
    from mailgothai.stack.manager import RELAY

    log_file = RELAY.log_file(settings)
    marker = "reloaded on request"
    before = log_file.read_text(errors="replace").count(marker)
    assert notify_relay(settings), "the relay is not running"
    wait_for(lambda: log_file.read_text(errors="replace").count(marker) > before, "the relay to reload")


def dns_records(services: object, domain: str) -> dict[str, str]:
    """The domain's DNS TXT records as the project shows them for publishing."""
    from mailgothai.services.dkim import record_of

    keys = services.dkim.list(domain)  # type: ignore[attr-defined]
    return {record_of(k).name: record_of(k).text for k in keys}


def inbox_subjects(settings: Settings, user: str, password: str) -> list[str]:
    """The subjects in the user's INBOX, decoded (RFC 2047), over IMAP with STARTTLS."""
    client = IMAPClient(settings.host, port=settings.imap_port, ssl=False, timeout=60)
    try:
        client.starttls(tls_client_context())
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        headers = (email.message_from_bytes(v[b"BODY[HEADER.FIELDS (SUBJECT)]"], policy=email.policy.default)
                   for v in fetched.values())
        return [str(h["Subject"]) for h in headers]
    finally:
        with contextlib.suppress(Exception):
            client.logout()
