"""The quarantine against the real relay and Dovecot (issue 18): a message kept through
`keep` (as the relay's DATA hook keeps it) and released through the service is delivered
once into the recipient's INBOX over IMAP with its bytes unchanged; a second release, a
release after a delete, and a release across a relay killed between spooling and marking
deliver nothing more. The kept files are owner-only.

"Nothing more" is seen without waiting on a clock: after the action that must deliver
nothing, another message is released to the same mailbox; once it has arrived, the relay's
loop has passed over the first one (it takes the releases in order, every pass)."""

from __future__ import annotations

import stat
import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import free_port

from mailgothai.core.quarantine import State, release_queue_id
from mailgothai.core.spam import Scan
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.spool import Envelope, Spool, Target, new_queue_id
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import manager
from mailgothai.store.db import Store
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles
from relay.conftest import FakeRemote, MailDomain, relay_with
from relay.helpers import fetch_all, wait_for, wait_for_messages

pytestmark = pytest.mark.sql

SCAN = Scan(action="no action", score=11.5, symbols={"BAYES_SPAM": 5.1, "SUSPICIOUS_URL": 4.0})


@pytest.fixture
def quarantine(relay: Settings) -> Iterator[Quarantine]:
    """Keeps as the relay does: the relay's directory, the SQL store, the relay's node name."""
    store = Store.open(relay.sql_url_effective)
    try:
        yield Quarantine(QuarantineFiles(relay.quarantine_path), QuarantineIndex(store), relay.relay_hostname)
    finally:
        store.close()


def spam(to: str, subject: str) -> bytes:
    """A message whose bytes a relay must not change: odd folding, a trailing space, 8-bit."""
    return (f"From: \"Prize Office\" <win@lottery.example>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@lottery.example>\r\nDate: Wed, 02 Dec 2026 08:00:00 +0000\r\n"
            "X-Odd:   folded\r\n\tvalue \r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "คุณได้รับรางวัล \r\n.leading dot\r\n\r\nClaim now.\r\n").encode()


def keep(quarantine: Quarantine, to: str, subject: str) -> tuple[str, bytes]:
    data = spam(to, subject)
    envelope = Envelope(new_queue_id(), "win@lottery.example", (Target(to, to, True),), time.time(),
                        client="198.51.100.7")
    return quarantine.keep(envelope, data, SCAN, to.split("@")[1], 30), data


def delivered(relay: Settings, user: str, data: bytes) -> int:
    """How many copies of `data` the user's INBOX holds (Dovecot adds its own fields above)."""
    return sum(1 for m in fetch_all(relay, user) if m.endswith(data))


def barrier(relay: Settings, services: Services, quarantine: Quarantine, user: str) -> None:
    """Release another message to `user` and wait until it is there."""
    held_id, data = keep(quarantine, user, "barrier")
    assert services.quarantine.release(held_id) == [user]
    wait_for(lambda: delivered(relay, user, data), "the barrier message")


def test_released_once_byte_for_byte(relay: Settings, mail_domain: MailDomain, services: Services,
                                     quarantine: Quarantine) -> None:
    user = mail_domain.account("somchai")
    held_id, data = keep(quarantine, user, "you won")
    assert fetch_all(relay, user) == []  # kept, not delivered
    path = relay.quarantine_path / held_id
    assert stat.S_IMODE(relay.quarantine_path.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == data
    [listed] = services.quarantine.listing(mail_domain.name)
    assert (listed.id, listed.subject, listed.score) == (held_id, "you won", 11.5)

    assert services.quarantine.release(held_id) == [user]
    assert services.quarantine.release(held_id) == []  # the second click
    [message] = wait_for_messages(relay, user)
    assert message.endswith(data)  # the kept bytes, unchanged, below Dovecot's Return-Path
    state = wait_for(lambda: services.quarantine.get(held_id).recipients[0].state is State.RELEASED or None,
                     "the release marked")
    assert state

    barrier(relay, services, quarantine, user)
    assert delivered(relay, user, data) == 1


def test_deleted_is_never_delivered(relay: Settings, mail_domain: MailDomain, services: Services,
                                    quarantine: Quarantine) -> None:
    user = mail_domain.account("malee")
    held_id, data = keep(quarantine, user, "phishing")
    assert services.quarantine.delete(held_id) == [user]
    assert services.quarantine.release(held_id) == []
    barrier(relay, services, quarantine, user)
    assert delivered(relay, user, data) == 0
    assert [r.state for r in services.quarantine.get(held_id).recipients] == [State.DELETED]


def test_a_relay_killed_between_spooling_and_marking_delivers_once(
        relay: Settings, mail_domain: MailDomain, services: Services, quarantine: Quarantine) -> None:
    user = mail_domain.account("boss")
    held_id, data = keep(quarantine, user, "urgent invoice")
    manager.RELAY.stop(relay)
    try:
        assert services.quarantine.release(held_id) == [user]
        rid = quarantine.index.get(held_id).recipients[0].id  # type: ignore[union-attr]
        # what the relay had done when it died: spooled under the release's id, not marked
        Spool(relay.spool_dir.resolve()).store(
            Envelope(release_queue_id(held_id, rid), "win@lottery.example", (Target(user, user, True),),
                     time.time(), client="quarantine"), data)
    finally:
        manager.start_relay(relay)
    wait_for_messages(relay, user)
    barrier(relay, services, quarantine, user)
    assert delivered(relay, user, data) == 1
    assert services.quarantine.get(held_id).recipients[0].state is State.RELEASED


def test_a_release_waiting_in_the_queue_never_reaches_a_later_holder_of_the_address(
        relay: Settings, mail_domain: MailDomain, services: Services, quarantine: Quarantine,
        remote: FakeRemote) -> None:
    """Released while Dovecot is away, the message waits in the queue; meanwhile the account
    is deleted and its address given to someone else: it fails for good (5.1.1), and the
    new holder never gets it. It came from outside without authentication: no DSN goes to
    its sender (backscatter), the failure is logged (bounce-dropped)."""
    user = mail_domain.account("released-then-gone")
    held_id, data = keep(quarantine, user, "kept for the old holder")
    with relay_with(relay, lmtp_port=free_port()) as away:
        assert services.quarantine.release(held_id) == [user]
        wait_for(lambda: [r.state for r in services.quarantine.get(held_id).recipients] == [State.RELEASED] or None,
                 "the release in the queue")
        assert any((away.spool_dir / "queue").glob("*.msg"))
        services.accounts.delete(user)
        mail_domain.account("released-then-gone")  # the new holder
    from mailgothai.stack import manager

    def dropped() -> bool:
        return any('"event": "bounce-dropped"' in line and user in line
                   for line in manager.RELAY.log_file(relay).read_text(errors="replace").splitlines())

    wait_for(dropped, "the failure logged, no DSN to the outside sender")
    about = f"Final-Recipient: rfc822; {user}".encode()
    assert [m for m in remote.messages_for("win@lottery.example") if about in m] == []
    barrier(relay, services, quarantine, user)  # the new holder's first message has arrived ...
    assert delivered(relay, user, data) == 0  # ... and the old holder's is not there
