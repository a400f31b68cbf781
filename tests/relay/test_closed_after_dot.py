"""A client that closes its connection right after the final dot, without waiting for the
reply. aiosmtpd cancels the DATA handler when the connection goes; the spool write (in a
thread) went on, but what followed it did not: the recipients counted against the hourly
limit were given back (the limit could be passed this way, without end) and the message
stayed in the spool, not handed to the queue, until a rescan. Now the store, the counter
and the hand-over to the queue are one step the closed connection cannot cut: a message
that reached the spool is counted and delivered (what a 250 would have promised)."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import submission, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.sql]

LIMIT = 2
# a few MB: the relay's spool write (fsync) lasts long enough for the close to arrive during it
PADDING = ("X-Pad: " + "a" * 900 + "\r\n") * 4000


def _close_after_the_dot(relay: Settings, user: str, target: str, n: int) -> int:
    """One transaction whose client closes right after the final dot; the RCPT reply code
    (the DATA is only sent when the RCPT was accepted)."""
    client = submission(relay, user)
    try:
        assert client.docmd("MAIL", f"FROM:<{user}>")[0] == 250
        code = client.docmd("RCPT", f"TO:<{target}>")[0]
        if code != 250:
            client.docmd("RSET")
            return code
        assert client.docmd("DATA")[0] == 354
        body = f"From: {user}\r\nTo: {target}\r\nSubject: abandoned {n}\r\n{PADDING}\r\nbody {n}\r\n.\r\n"
        assert client.sock is not None
        client.sock.sendall(body.encode())
        time.sleep(0.02)
        client.sock.shutdown(socket.SHUT_RDWR)  # gone: no reply is read
        return code
    finally:
        client.close()


def test_a_client_closing_after_the_dot_spends_its_hourly_limit_and_its_message_is_delivered(
        relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    mail_domain.services.domains.set(mail_domain.name, hourly_send_limit=LIMIT)
    user = mail_domain.account(f"abandon-{uuid.uuid4().hex[:6]}")
    target = f"bulk-{uuid.uuid4().hex[:6]}@remote.example"
    codes = []
    for n in range(LIMIT + 4):
        codes.append(_close_after_the_dot(relay, user, target, n))
        time.sleep(1.0)  # the relay has seen the close and ended the transaction
    # a message whose DATA arrived before the close was spooled, counted and delivered;
    # the recipients of every other transaction were given back: never more than LIMIT
    assert codes.count(250) >= LIMIT and 452 in codes, codes
    delivered = wait_for(lambda: len(remote.messages_for(target)) >= LIMIT and remote.messages_for(target),
                         "the abandoned messages delivered, without a rescan", 30)
    time.sleep(2)
    assert len(remote.messages_for(target)) == len(delivered) == LIMIT
    with submission(relay, user) as client:  # and the limit is spent
        assert client.docmd("MAIL", f"FROM:<{user}>")[0] == 250
        assert client.docmd("RCPT", f"TO:<{target}>")[0] == 452
