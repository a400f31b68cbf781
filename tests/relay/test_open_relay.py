"""Never an open relay: without AUTH, mail to a domain not hosted here is refused on
every listener, whatever the address trick; the same tricks aimed at a hosted domain
never reach anyone either."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import message, mx, smtps, submission, wait_for_messages

pytestmark = pytest.mark.integration

REMOTE = "victim@remote.example"


def tricks(hosted: str, user: str) -> list[str]:
    local = user.split("@")[0]
    return [
        "<victim@remote.example>",
        "<VICTIM@REMOTE.EXAMPLE>",  # uppercase
        f"<victim%remote.example@{hosted}>",  # percent hack
        f"<remote.example!victim@{hosted}>",  # bang path
        f"<\"victim@remote.example\"@{hosted}>",  # quoted local part with an @
        f"<@{hosted}:victim@remote.example>",  # source route through us
        f"<@{hosted},@relay.example:victim@remote.example>",  # longer source route
        "<victim@xn--12c1fe0br.example>",  # IDN remote domain (A-label)
        "<victim@ไทย.example>",  # IDN remote domain (U-label)
        "<victim@[192.0.2.1]>",  # address literal
        f"<{local}@{hosted}.remote.example>",  # our name as a prefix of another domain
        f"<{local}@{hosted}.>",  # trailing dot
        "<victim@remote.example>",
    ]


LISTENERS: dict[str, Callable[[Settings], smtplib.SMTP]] = {
    "mx": mx,
    "submission-without-auth": lambda s: submission(s),
    "smtps-without-auth": lambda s: smtps(s),
}


@pytest.mark.parametrize("listener", sorted(LISTENERS))
@pytest.mark.parametrize("sender_kind", ["normal", "null", "hosted"])
def test_unauthenticated_relaying_is_refused(relay: Settings, mail_domain: MailDomain, remote: FakeRemote,
                                             listener: str, sender_kind: str) -> None:
    user = mail_domain.account("someone")
    sender = {"normal": "spammer@elsewhere.example", "null": "", "hosted": user}[sender_kind]
    before = len(remote.received)
    for rcpt in tricks(mail_domain.name, user):
        # a connection each: the relay closes one after relay_max_errors_per_connection refusals
        with LISTENERS[listener](relay) as client:
            client.command_encoding = "utf-8"  # the U-label trick goes as UTF-8
            code, _ = client.docmd("MAIL", f"FROM:<{sender}>")
            assert code == 250  # <> (bounces) is a valid sender: never a ticket to relay
            code, reply = client.docmd("RCPT", f"TO:{rcpt}")
            assert code in (550, 553, 554, 501, 500), (listener, rcpt, code, reply)
            if code == 554:
                assert reply.startswith(b"5.7.1 Relay access denied")
            code, _ = client.docmd("DATA")
            assert code in (503, 554), (rcpt, code)  # no recipient was accepted
    assert len(remote.received) == before  # nothing left the building


def test_a_real_local_recipient_is_accepted_on_the_mx(relay: Settings, mail_domain: MailDomain) -> None:
    """The control case: the same unauthenticated client may deliver to a hosted mailbox,
    which gets an Authentication-Results header (no signature; DNS is off here)."""
    user = mail_domain.account("inbox")
    with mx(relay) as client:
        assert client.sendmail("friend@elsewhere.example", [user.upper()],
                               message("friend@elsewhere.example", user)) == {}
    [got] = wait_for_messages(relay, user)
    header = got.split(b"Authentication-Results: ", 1)[1].split(b"\r\n\r\n", 1)[0]
    assert header.startswith(f"{relay.relay_hostname};".encode()) and b"dkim=none" in header
    assert b"spf=temperror smtp.mailfrom=friend@elsewhere.example" in header


def test_connections_per_client_address_are_capped(relay: Settings) -> None:
    import socket

    opened = []
    try:
        for _ in range(relay.relay_max_connections_per_ip):
            sock = socket.create_connection((relay.host, relay.smtp_port), timeout=30)
            opened.append(sock)
            assert sock.recv(100).startswith(b"220")
        extra = socket.create_connection((relay.host, relay.smtp_port), timeout=30)
        opened.append(extra)
        assert extra.recv(100).startswith(b"421 4.7.0")
    finally:
        for sock in opened:
            sock.close()


def test_a_mixed_transaction_delivers_only_locally(relay: Settings, mail_domain: MailDomain,
                                                   remote: FakeRemote) -> None:
    user = mail_domain.account("mixed")
    before = len(remote.received)
    with mx(relay) as client:
        refused = client.sendmail("friend@elsewhere.example", [user, REMOTE],
                                  message("friend@elsewhere.example", user))
    assert list(refused) == [REMOTE] and refused[REMOTE][0] == 554
    assert len(remote.received) == before


def test_authenticated_users_may_send_out(relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    user = mail_domain.account("outbound")
    target = f"friend-{mail_domain.name}@remote.example"
    with submission(relay, user) as client:
        assert client.sendmail(user, [target], message(user, target, "outbound")) == {}
    from relay.helpers import wait_for

    [data] = wait_for(lambda: remote.messages_for(target), "the fake remote to receive the message")
    assert b"Subject: outbound" in data


def _bounce_dropped(relay: Settings, sender: str) -> bool:
    from mailgothai.stack import manager

    return any('"event": "bounce-dropped"' in line and sender in line
               for line in manager.RELAY.log_file(relay).read_text(errors="replace").splitlines())


def test_a_forward_refused_outside_sends_no_dsn_to_the_unauthenticated_sender(
        relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    """Spam from outside with a forged MAIL FROM, to an account that forwards outside: the
    forward's destination refuses it (550), and the relay sent a DSN to the forged address
    (backscatter). Mail accepted without authentication gets a DSN only in a mailbox here;
    for an outside sender the failure is logged (bounce-dropped), nothing is sent. (A hosted
    user's own mail refused by a remote still gets its DSN: test_queue.py.)"""
    import uuid

    from relay.helpers import wait_for

    forward = f"fwd-{uuid.uuid4().hex[:8]}@remote.example"
    remote.scripts[forward] = ["550 5.7.1 spam refused"]
    user = mail_domain.account("forwarding", forwards=forward)
    forged = f"outside-{uuid.uuid4().hex[:8]}@forged.example"
    with mx(relay) as client:
        assert client.sendmail(forged, [user], message(forged, user, "spam")) == {}
    wait_for(lambda: remote.attempts[forward] >= 1, "the forward to be refused")
    wait_for(lambda: _bounce_dropped(relay, forged), "the failure logged as bounce-dropped", 20)
    assert remote.messages_for(forged) == []  # no DSN to the forged address
    [kept] = wait_for_messages(relay, user)  # the account's own copy arrives
    assert b"Subject: spam" in kept

