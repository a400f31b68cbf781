"""Out-of-office replies with real clients (issue 17): an outside sender writes to the
relay's MX port; the reply Dovecot's Sieve makes leaves through the relay (its remote
delivery reaches the test's smarthost), DKIM-signed for the account's domain (Perl
Mail::DKIM), once per sender per period; none to bulk, auto-submitted, list or no-reply
mail, none before the first day."""

from __future__ import annotations

import email
import email.header
import email.policy
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from mailgothai.mailstore.paths import paths_for
from mailgothai.services.vacation import today_in_thailand
from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import dns_records, fetch_all, message, mx, perl_verify, reload_relay, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.sql]

SUBJECT = "ไม่อยู่ที่สำนักงาน / Out of office"
TEXT = "เรียนผู้ติดต่อ\nขณะนี้ดิฉันลาพักร้อน กลับวันที่ 5 มกราคม\n\nI am away until 5 January.\n"


@pytest.fixture
def signed_domain(mail_domain: MailDomain, relay: Settings) -> MailDomain:
    mail_domain.services.dkim.generate(mail_domain.name, "rsa")
    reload_relay(relay)
    return mail_domain


def outsider(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@outside.example"


def send_from_outside(relay: Settings, sender: str, to: str, subject: str, extra: str = "") -> None:
    with mx(relay) as client:
        assert client.sendmail(sender, [to], message(sender, to, subject, "hello\r\n", extra=extra)) == {}


def replies_to(remote: FakeRemote, address: str) -> list[bytes]:
    return remote.messages_for(address)


def inbox_count(relay: Settings, user: str) -> int:
    return len(fetch_all(relay, user))


def test_an_outside_sender_gets_one_signed_reply_through_the_relay(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote, tmp_path: Path) -> None:
    away = signed_domain.account("away", aliases=f"director@{signed_domain.name}")
    signed_domain.services.vacation.set(away, subject=SUBJECT, message=TEXT,
                                        start=today_in_thailand() - timedelta(days=1),
                                        end=today_in_thailand() + timedelta(days=10))
    partner = outsider("partner")
    send_from_outside(relay, partner, f"director@{signed_domain.name}", "first")  # to the alias

    [reply] = wait_for(lambda: replies_to(remote, partner), "the out-of-office reply at the smarthost")
    envelope_sender = next(sender for sender, rcpts, _ in remote.received if partner in rcpts)
    assert envelope_sender in ("", "<>")  # RFC 5230 5.1: no bounce comes back to a reply
    assert b"(Sieve pickup)" in reply  # taken from the pickup directory, not submitted over SMTP
    parsed = email.message_from_bytes(reply, policy=email.policy.default)
    assert str(parsed["Subject"]) == SUBJECT
    assert b"=?" in reply.split(b"\r\n\r\n", 1)[0]  # the Thai subject is encoded in the header
    assert parsed["Auto-Submitted"].startswith("auto-replied")
    assert str(parsed["From"]) == f"director@{signed_domain.name}"  # the address the sender wrote to
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n").strip() == TEXT.strip()
    perl = perl_verify(reply, dns_records(signed_domain.services, signed_domain.name), tmp_path)
    assert perl.overall == "pass", perl.lines

    # a second message from the same sender within the period: delivered, not answered
    send_from_outside(relay, partner, away, "second")
    wait_for(lambda: inbox_count(relay, away) >= 2, "the second message in the INBOX")
    control = outsider("control")  # replies still go out: the one below is the proof of timing
    send_from_outside(relay, control, away, "control")
    wait_for(lambda: replies_to(remote, control), "the control sender's reply")
    assert len(replies_to(remote, partner)) == 1


@pytest.mark.parametrize(("tag", "extra", "sender_local"), [
    ("bulk", "Precedence: bulk\r\n", None),
    ("auto-generated", "Auto-Submitted: auto-generated\r\n", None),
    ("list", "List-Id: Announcements <announce.lists.outside.example>\r\n", None),
    ("noreply", "", "noreply"),
    ("no-reply", "", "no-reply"),
])
def test_no_reply_to_bulk_auto_submitted_list_or_no_reply_mail(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote, tag: str, extra: str,
        sender_local: str | None) -> None:
    away = signed_domain.account("away")
    signed_domain.services.vacation.set(away, subject=SUBJECT, message=TEXT)
    sender = f"{sender_local}@{uuid.uuid4().hex[:8]}.outside.example" if sender_local else outsider(tag)
    send_from_outside(relay, sender, away, tag, extra)
    wait_for(lambda: inbox_count(relay, away) >= 1, "the message in the INBOX")
    control = outsider("control")
    send_from_outside(relay, control, away, "control")
    wait_for(lambda: replies_to(remote, control), "the control sender's reply")
    assert replies_to(remote, sender) == []


def test_no_reply_before_the_first_day_and_the_users_own_script_untouched(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    later, now = signed_domain.account("later"), signed_domain.account("now")
    config = str(paths_for(relay).config)
    own = 'require ["fileinto", "mailbox"];\nif header :contains "subject" "report" { fileinto :create "Reports"; }\n'
    done = subprocess.run(["doveadm", "-c", config, "sieve", "put", "-u", now, "-a", "own"], input=own,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    signed_domain.services.vacation.set(later, subject=SUBJECT, message=TEXT,
                                        start=today_in_thailand() + timedelta(days=2))
    signed_domain.services.vacation.set(now, subject=SUBJECT, message=TEXT)
    listed = subprocess.run(["doveadm", "-c", config, "sieve", "list", "-u", now], capture_output=True, text=True,
                            check=True).stdout
    assert listed.split() == ["own", "ACTIVE"]  # the user's script is still the only one, still active

    early = outsider("early")
    send_from_outside(relay, early, later, "too early")
    wait_for(lambda: inbox_count(relay, later) >= 1, "the message in the INBOX")
    control = outsider("control")
    send_from_outside(relay, control, now, "monthly report")
    wait_for(lambda: replies_to(remote, control), "the control sender's reply")
    assert replies_to(remote, early) == []
    assert inbox_count(relay, now) == 0  # the user's own rule filed it, after the reply went
