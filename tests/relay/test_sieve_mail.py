"""Mail that Sieve sends (issue 17): a user's `redirect` leaves through the relay (the
relay's remote delivery reaches the test's smarthost), DKIM-signed for the user's domain,
with the user as its envelope sender, counted in the user's hourly limit (through the relay's
pickup directory, relay/sieve_pickup.py); the SMTP path a Dovecot node without a relay uses
(AUTH as the Sieve sender with the stack's secret) is closed to anyone without it."""

from __future__ import annotations

import base64
import smtplib
import subprocess
import uuid
from pathlib import Path

import pytest

from mailgothai.core.sieve_mail import SIEVE_LOGIN
from mailgothai.mailstore.paths import paths_for
from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import dns_records, fetch_all, message, mx, perl_verify, reload_relay, submission, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.sql]


def put_script(settings: Settings, user: str, script: str) -> None:
    done = subprocess.run(["doveadm", "-c", str(paths_for(settings).config), "sieve", "put", "-u", user, "-a",
                           "rules"], input=script, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def sieve_auth(client: smtplib.SMTP, user: str, secret: str) -> int:
    token = base64.b64encode(f"{user}\0{SIEVE_LOGIN}\0{secret}".encode()).decode()
    return client.docmd("AUTH", f"PLAIN {token}")[0]


@pytest.fixture
def signed_domain(mail_domain: MailDomain, relay: Settings) -> MailDomain:
    mail_domain.services.dkim.generate(mail_domain.name, "rsa")
    reload_relay(relay)
    return mail_domain


def test_a_redirect_leaves_through_the_relay_signed_from_the_user_and_counted(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote, tmp_path: Path) -> None:
    signed_domain.services.domains.set(signed_domain.name, hourly_send_limit=1)
    boss = signed_domain.account("boss")
    target = f"boss-away-{uuid.uuid4().hex[:8]}@remote.example"
    put_script(relay, boss, f'redirect "{target}";\n')

    outsider = "partner@outside.example"
    with mx(relay) as client:
        assert client.sendmail(outsider, [boss], message(outsider, boss, "for the boss", "สวัสดีครับ\r\n")) == {}

    [got] = wait_for(lambda: remote.messages_for(target), "the redirected copy at the remote")
    envelope_sender = next(sender for sender, rcpts, _ in remote.received if target in rcpts)
    assert envelope_sender == boss  # the user, not the outside sender
    assert b"Subject: for the boss" in got and f"From: <{outsider}>".encode() in got  # the original From:
    perl = perl_verify(got, dns_records(signed_domain.services, signed_domain.name), tmp_path)
    assert perl.overall == "pass", perl.lines
    assert any(line.startswith(f"{signed_domain.name} ") and line.endswith(" pass") for line in perl.lines), perl.lines

    # the redirect spent the user's one recipient of this hour
    reader = signed_domain.account("reader")
    with submission(relay, boss) as client:
        assert client.docmd("MAIL", f"FROM:<{boss}>")[0] == 250
        assert client.docmd("RCPT", f"TO:<{reader}>")[0] == 452


def test_the_sieve_path_is_closed_without_the_stacks_secret(relay: Settings, mail_domain: MailDomain) -> None:
    user = mail_domain.account("victim")
    secret = str(relay.sieve_submit_secret)
    assert secret
    with submission(relay) as client:  # STARTTLS, no login yet
        assert sieve_auth(client, user, "guessed-" + secret[:8]) == 535
        client.docmd("MAIL", f"FROM:<{user}>")
        assert client.docmd("RCPT", "TO:<someone@remote.example>")[0] >= 500  # not an open relay
    with submission(relay) as client:  # the secret does not make an outside address a sender
        assert sieve_auth(client, "anyone@remote.example", secret) == 535
    with submission(relay) as client:
        assert sieve_auth(client, f"nobody@{mail_domain.name}", secret) == 535
    with mx(relay) as client:  # the MX listener offers no AUTH at all
        assert not client.has_extn("auth")
        assert sieve_auth(client, user, secret) >= 500
    other = mail_domain.account("other")
    with submission(relay) as client:  # acting for one user: only that user's address, or <>
        assert sieve_auth(client, user, secret) == 235
        assert client.docmd("MAIL", f"FROM:<{other}>")[0] == 553
        assert client.docmd("MAIL", "FROM:<>")[0] == 250


def test_the_sieve_sender_secret_is_the_mail_users_alone(relay: Settings) -> None:
    conf = paths_for(relay).sieve_dir / "submit.json"
    st = conf.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (relay.mail_uid, 0o400)
    assert str(relay.sieve_submit_secret) in conf.read_text()



def test_over_the_hourly_limit_no_reply_leaves_and_the_mail_still_arrives(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    signed_domain.services.domains.set(signed_domain.name, hourly_send_limit=1)
    clerk, reader = signed_domain.account("clerk"), signed_domain.account("reader")
    with submission(relay, clerk) as client:  # the hour's one recipient, spent by the user
        assert client.sendmail(clerk, [reader], message(clerk, reader, "mine")) == {}
    signed_domain.services.vacation.set(clerk, subject="Away", message="I am away.")
    partner = f"partner-{uuid.uuid4().hex[:8]}@outside.example"
    with mx(relay) as client:
        assert client.sendmail(partner, [clerk], message(partner, clerk, "over the limit")) == {}
    # the reply is not sent past the limit, and the incoming message is not held back for it
    [arrived] = wait_for(lambda: fetch_all(relay, clerk), "the message in the INBOX")
    assert b"Subject: over the limit" in arrived
    assert remote.messages_for(partner) == []
