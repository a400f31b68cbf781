"""A message delivered over LMTP is read back over IMAP, byte for byte; GETQUOTA reports
the quota the directory holds, and a change made with the CLI reaches it."""

from __future__ import annotations

import smtplib
import subprocess

import pytest

from tests.conftest import Cli
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

PASSWORD = "Deliver-me-2024"

BODY = (
    "สวัสดีครับ คุณสมชาย\r\n"
    ".a line that starts with a dot (LMTP dot-stuffing)\r\n"
    "..and one with two\r\n"
    "\r\n"
    "tabs\tand  double  spaces, trailing space \r\n"
    + "x" * 900 + "\r\n"
    "=HYPERLINK(\"x\") *)(uid=* \\back\\slash\r\n"
).encode("utf-8")

HEADERS = (
    "From: Sender <sender@example.org>\r\n"
    "To: {to}\r\n"
    "Subject: {subject}\r\n"
    "Message-ID: <{subject}@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
)


def message(to: str, subject: str) -> bytes:
    return HEADERS.format(to=to, subject=subject).encode("ascii") + BODY


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr


def test_lmtp_delivery_is_fetched_over_imap_intact(cli: Cli, domain: str, mail: MailClients) -> None:
    email = f"reader@{domain}"
    _ok(cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n"))

    mail.deliver(email, message(email, "first"))
    mail.deliver(email, message(email, "second"))

    with mail.imap(email, PASSWORD) as imap:
        imap.select_folder("INBOX", readonly=True)
        uids = imap.search(["ALL"])
        assert len(uids) == 2
        fetched = imap.fetch(uids, ["BODY.PEEK[TEXT]", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "RFC822.SIZE"])
    subjects = sorted(data[b"BODY[HEADER.FIELDS (SUBJECT)]"].strip() for data in fetched.values())
    assert subjects == [b"Subject: first", b"Subject: second"]
    for data in fetched.values():
        assert data[b"BODY[TEXT]"] == BODY


def test_lmtp_refuses_unknown_and_suspended_recipients(cli: Cli, domain: str, mail: MailClients) -> None:
    email = f"sleeper@{domain}"
    _ok(cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n"))
    _ok(cli("account", "suspend", email))
    for rcpt in (email, f"nobody@{domain}"):
        with smtplib.LMTP(mail.settings.host, mail.settings.lmtp_port, timeout=30) as lmtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                lmtp.sendmail("sender@example.org", [rcpt], message(rcpt, "nope"))
        code, _ = refused.value.recipients[rcpt]
        assert code == 550, refused.value.recipients


def test_getquota_follows_the_directory_and_cli_changes(cli: Cli, domain: str, mail: MailClients) -> None:
    email = f"quota@{domain}"
    _ok(cli("account", "add", email, "--quota", "300M", "--password-stdin", stdin=PASSWORD + "\n"))
    assert mail.quota_kib(email, PASSWORD) == 300 * 1024

    # That login put the user (and its quota) in Dovecot's auth cache, whose TTL in the
    # tests is 60 s: only the flush the service does makes the new value visible now.
    _ok(cli("account", "set", email, "--quota", "2G"))
    assert mail.quota_kib(email, PASSWORD) == 2 * 1024 * 1024

    mail.deliver(email, message(email, "counted"))
    with mail.imap(email, PASSWORD) as imap:
        _, quotas = imap.get_quota_root("INBOX")
    assert quotas[0].usage > 0, "a delivered message counts against the quota"

    _ok(cli("account", "set", email, "--quota", "1536K"))
    assert mail.quota_kib(email, PASSWORD) == 1536
