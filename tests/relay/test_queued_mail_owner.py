"""Mail waiting in the queue belongs to the account it was accepted for, not to its
address: when the address changes hands before delivery (Dovecot was away), the message
goes to that account at its new address after a rename, and bounces once the account is
deleted — never to the account that holds the address since."""

from __future__ import annotations

import time

import pytest
from conftest import free_port

from mailgothai.settings import Settings
from relay.conftest import MailDomain, relay_with
from relay.helpers import fetch_all, message, submission, wait_for, wait_for_messages

pytestmark = pytest.mark.integration


def _queued(settings: Settings) -> int:
    return sum(1 for _ in (settings.spool_dir / "queue").glob("*.msg"))


def test_queued_mail_for_a_deleted_account_bounces_instead_of_reaching_the_new_holder(
        relay: Settings, mail_domain: MailDomain) -> None:
    sender = mail_domain.account("colleague")
    holder = mail_domain.account("director")
    with relay_with(relay, lmtp_port=free_port()) as away:  # Dovecot unreachable: the message waits
        with submission(away, sender) as client:
            assert client.sendmail(sender, [holder], message(sender, holder, "for the old director")) == {}
        wait_for(lambda: _queued(away) or None, "the message in the queue")
        mail_domain.services.accounts.delete(holder)
        mail_domain.account("director")  # a newcomer now holds the address
    # the relay is back with Dovecot reachable: the queue is delivered
    [dsn] = wait_for_messages(relay, sender)
    assert b"report-type=delivery-status" in dsn
    assert f"Final-Recipient: rfc822; {holder}".encode() in dsn
    assert b"Status: 5.1.1" in dsn
    wait_for(lambda: _queued(relay) == 0 or None, "the queue to empty")
    time.sleep(1)
    assert not any(b"for the old director" in m for m in fetch_all(relay, holder))  # the new holder's mailbox


def test_queued_mail_follows_a_renamed_account_not_its_old_address(relay: Settings,
                                                                   mail_domain: MailDomain) -> None:
    sender = mail_domain.account("clerk")
    holder = mail_domain.account("secretary")
    moved = f"former-secretary@{mail_domain.name}"
    with relay_with(relay, lmtp_port=free_port()) as away:
        with submission(away, sender) as client:
            assert client.sendmail(sender, [holder], message(sender, holder, "minutes of the meeting")) == {}
        wait_for(lambda: _queued(away) or None, "the message in the queue")
        mail_domain.services.lifecycle.rename(holder, moved)
        mail_domain.account("secretary")  # a newcomer now holds the old address
    [got] = wait_for_messages(relay, moved)
    assert b"Subject: minutes of the meeting" in got
    wait_for(lambda: _queued(relay) == 0 or None, "the queue to empty")
    time.sleep(1)
    assert fetch_all(relay, holder) == []  # the newcomer got nothing
    assert fetch_all(relay, sender) == []  # and no bounce
