"""Out-of-office replies with real clients (issue 17): an outside sender writes to the
relay's MX port; the reply Dovecot's Sieve makes leaves through the relay (its remote
delivery reaches the test's smarthost), DKIM-signed for the account's domain (Perl
Mail::DKIM), once per sender per period; none to bulk, auto-submitted, list or no-reply
mail, none before the first day."""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import smtplib
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from mailgothai.core.sieve_mail import SIEVE_LOGIN
from mailgothai.mailstore.paths import paths_for
from mailgothai.services.vacation import today_in_thailand
from mailgothai.settings import Settings
from mailgothai.stack import manager
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import dns_records, fetch_all, message, mx, perl_verify, reload_relay, submission, wait_for

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


# ---- the From: of Sieve's own mail is the user's, as at submission ----------------------
def put_own_script(relay: Settings, user: str, script: str) -> None:
    """The user's own active script (as a ManageSieve client would put it)."""
    done = subprocess.run(["doveadm", "-c", str(paths_for(relay).config), "sieve", "put", "-u", user, "-a", "own"],
                          input=script, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def vacation_from(shown: str, user: str, days: int = 1) -> str:
    return (f'require ["vacation"];\nvacation :days {days} :from "{shown}" :subject "Urgent: transfer" '
            f':addresses ["{user}"] "Wire the budget today.";\n')


def relay_log(relay: Settings) -> str:
    return manager.RELAY.log_file(relay).read_text(errors="replace")


def test_a_vacation_reply_may_not_come_from_a_colleague(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    """Audit: `vacation :from "Director <director@…>"` in a user's own script made the relay
    send a reply From: the director, DKIM-signed for the domain. Sieve's own mail (not a
    redirect) is now held to the submission rule: the reply is refused, logged, not sent."""
    d = signed_domain.name
    director = signed_domain.account("director")
    alias = f"office-{uuid.uuid4().hex[:6]}@{d}"
    mallory = signed_domain.account("mallory", aliases=alias)
    put_own_script(relay, mallory, vacation_from(f"Director <{director}>", mallory))
    victim = outsider("victim")
    send_from_outside(relay, victim, mallory, "budget")
    wait_for(lambda: inbox_count(relay, mallory) >= 1, "the incoming message in the INBOX")  # still delivered
    refusal = f"From: header address is not yours: {director}"
    wait_for(lambda: refusal in relay_log(relay) or None, "the refused reply in the relay's log")
    assert replies_to(remote, victim) == []

    # a hosted domain shown in the display name is refused as at submission
    other = f"r{uuid.uuid4().hex[:10]}.go.th"
    signed_domain.services.domains.add(other, description="another agency")
    put_own_script(relay, mallory, vacation_from(f'\\"minister@{other}\\" <{mallory}>', mallory))
    shown = outsider("shown")
    send_from_outside(relay, shown, mallory, "budget")
    wait_for(lambda: f"From: header shows {other}" in relay_log(relay) or None, "the refused reply in the log")
    assert replies_to(remote, shown) == []

    # the user's own address or alias as :from: the reply leaves
    put_own_script(relay, mallory, vacation_from(f"Office <{alias}>", mallory))
    control = outsider("control")
    send_from_outside(relay, control, mallory, "budget")
    [reply] = wait_for(lambda: replies_to(remote, control), "the reply from the user's alias")
    assert str(email.message_from_bytes(reply, policy=email.policy.default)["From"]) == f"Office <{alias}>"
    assert replies_to(remote, victim) == [] and replies_to(remote, shown) == []


def test_sieve_mail_over_smtp_is_held_to_the_users_from_unless_it_is_a_redirect(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    """The SMTP path of Sieve mail (a Dovecot node without a relay): a reply From: a
    colleague is refused at DATA; a redirect (Pigeonhole's X-Sieve and
    X-Sieve-Redirected-From naming the user first) keeps its original From:."""
    d = signed_domain.name
    director, clerk = signed_domain.account("director"), signed_domain.account("clerk")
    target = outsider("target")
    reply = (f"X-Sieve: Pigeonhole Sieve 0.5.19\r\nMessage-ID: <{uuid.uuid4().hex}@{d}>\r\n"
             f"Date: Wed, 25 Nov 2026 08:00:00 +0000\r\nFrom: Director <{director}>\r\nTo: <{target}>\r\n"
             f"Subject: Urgent\r\nAuto-Submitted: auto-replied (vacation)\r\n\r\nWire it.\r\n").encode()
    redirected = (f"X-Sieve: Pigeonhole Sieve 0.5.19\r\nX-Sieve-Redirected-From: {clerk}\r\n"
                  f"From: <partner@outside.example>\r\nTo: <{clerk}>\r\nSubject: for the clerk\r\n"
                  f"Message-ID: <{uuid.uuid4().hex}@outside.example>\r\n\r\nhello\r\n").encode()
    # a redirect's marks anywhere but first (a mailto notification may add header fields
    # after its own), or naming someone else, do not make a redirect
    fake_marks = [reply.replace(b"\r\n\r\n", f"\r\nX-Sieve-Redirected-From: {clerk}\r\n\r\n".encode(), 1),
                  redirected.replace(f"Redirected-From: {clerk}".encode(), f"Redirected-From: {director}".encode())
                  .replace(b"partner@outside.example", director.encode())]
    secret = str(relay.sieve_submit_secret)
    with submission(relay) as client:
        token = base64.b64encode(f"{clerk}\0{SIEVE_LOGIN}\0{secret}".encode()).decode()
        assert client.docmd("AUTH", f"PLAIN {token}")[0] == 235
        for data in (reply, *fake_marks):
            with pytest.raises(smtplib.SMTPDataError) as info:
                client.sendmail("", [target], data)
            assert info.value.smtp_code == 550 and director.encode() in info.value.smtp_error
        assert client.sendmail(clerk, [target], redirected) == {}
        # system mail (a reset link, an expiry warning: not Pigeonhole's) comes from the
        # domain's no-reply@ or postmaster@; Pigeonhole's own mail may not
        system = (f"From: no-reply@{d}\r\nTo: <{target}>\r\nSubject: reset link\r\n"
                  f"Auto-Submitted: auto-generated\r\n\r\nlink\r\n").encode()
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("", [target], reply.replace(f"Director <{director}>".encode(),
                                                        f"<postmaster@{d}>".encode()))
        assert info.value.smtp_code == 550 and b"postmaster@" in info.value.smtp_error
        assert client.sendmail("", [target], system) == {}
    got = wait_for(lambda: remote.messages_for(target)[1:] or None, "the redirect and the system mail at the remote")
    assert b"From: <partner@outside.example>" in remote.messages_for(target)[0]
    assert b"Subject: reset link" in got[0]
