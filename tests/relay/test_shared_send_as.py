"""Send-as for shared role mailboxes (issue 17), against the real relay: a member with the
send-as right may send as saraban@D (envelope and From:), a member without it and anyone
else may not, and the right goes with a removal, a suspension and a deletion (a new
account on the same address has none)."""

from __future__ import annotations

import smtplib

import pytest

from mailgothai.core.models import Status
from mailgothai.settings import Settings
from relay.conftest import MailDomain, relay_with
from relay.helpers import PASSWORD, message, submission, wait_for_messages

pytestmark = [pytest.mark.integration]


def send(settings: Settings, user: str, sender: str, to: str, subject: str) -> None:
    with submission(settings, user) as client:
        client.sendmail(sender, [to], message(sender, to, subject))


def can_log_in(settings: Settings, user: str) -> bool:
    client = submission(settings)
    try:
        client.login(user, PASSWORD)
    except smtplib.SMTPAuthenticationError:
        return False
    finally:
        client.close()
    return True


def refused_as(settings: Settings, user: str, sender: str, to: str) -> int:
    """The reply code the relay gives `user` sending as `sender` (0: accepted)."""
    try:
        send(settings, user, sender, to, "should not leave")
    except smtplib.SMTPSenderRefused as exc:
        return exc.smtp_code
    return 0


@pytest.fixture
def saraban(mail_domain: MailDomain) -> dict[str, str]:
    people = {role: mail_domain.account(role) for role in ("clerk", "reader", "stranger", "inbox")}
    shared = f"saraban@{mail_domain.name}"
    mail_domain.services.shared.add(shared)
    mail_domain.services.shared.add_member(shared, people["clerk"], "read,send-as")
    mail_domain.services.shared.add_member(shared, people["reader"], "read,write")
    return {**people, "shared": shared}


def test_a_member_with_send_as_sends_as_the_shared_address(relay: Settings, saraban: dict[str, str]) -> None:
    send(relay, saraban["clerk"], saraban["shared"], saraban["inbox"], "official reply")
    got = wait_for_messages(relay, saraban["inbox"])
    assert f"From: <{saraban['shared']}>".encode() in got[0] and b"official reply" in got[0]


def test_others_may_not_send_as_the_shared_address(relay: Settings, saraban: dict[str, str]) -> None:
    assert refused_as(relay, saraban["reader"], saraban["shared"], saraban["inbox"]) == 553  # member, no send-as
    assert refused_as(relay, saraban["stranger"], saraban["shared"], saraban["inbox"]) == 553


def test_send_as_goes_with_a_removal(relay: Settings, saraban: dict[str, str], mail_domain: MailDomain) -> None:
    assert refused_as(relay, saraban["clerk"], saraban["shared"], saraban["inbox"]) == 0
    mail_domain.services.shared.remove_member(saraban["shared"], saraban["clerk"])
    assert refused_as(relay, saraban["clerk"], saraban["shared"], saraban["inbox"]) == 553


def test_send_as_goes_with_the_rights_changed(relay: Settings, saraban: dict[str, str],
                                              mail_domain: MailDomain) -> None:
    mail_domain.services.shared.add_member(saraban["shared"], saraban["clerk"], "read")
    assert refused_as(relay, saraban["clerk"], saraban["shared"], saraban["inbox"]) == 553


def test_a_suspended_member_cannot_log_in_to_send(relay: Settings, saraban: dict[str, str],
                                                  mail_domain: MailDomain) -> None:
    assert can_log_in(relay, saraban["clerk"])
    mail_domain.services.accounts.set_status(saraban["clerk"], Status.DISABLED)
    assert not can_log_in(relay, saraban["clerk"])


def test_a_new_account_on_a_deleted_members_address_may_not_send_as(relay: Settings, saraban: dict[str, str],
                                                                    mail_domain: MailDomain) -> None:
    mail_domain.services.accounts.delete(saraban["clerk"])
    mail_domain.account("clerk")  # someone else, on the same address
    assert refused_as(relay, saraban["clerk"], saraban["shared"], saraban["inbox"]) == 553
    assert refused_as(relay, saraban["clerk"], saraban["clerk"], saraban["inbox"]) == 0  # its own address: fine


def test_nobody_authenticates_as_the_shared_mailbox(relay: Settings, saraban: dict[str, str]) -> None:
    assert not can_log_in(relay, saraban["shared"])


def test_a_removal_is_not_hidden_by_the_relays_cache(relay: Settings, saraban: dict[str, str],
                                                     mail_domain: MailDomain) -> None:
    """With answers cached for ten minutes, a removal still counts at once on this node:
    the service tells the relay of its data directory to drop them (SIGUSR1)."""
    with relay_with(relay, relay_lookup_cache_ttl=600) as cached:
        assert refused_as(cached, saraban["clerk"], saraban["shared"], saraban["inbox"]) == 0  # now cached
        mail_domain.services.shared.remove_member(saraban["shared"], saraban["clerk"])
        assert refused_as(cached, saraban["clerk"], saraban["shared"], saraban["inbox"]) == 553


def test_send_as_also_at_an_alias_domain(relay: Settings, saraban: dict[str, str], mail_domain: MailDomain) -> None:
    renamed = f"new-{mail_domain.name}"
    mail_domain.services.domain_routing.add_alias_domain(renamed, mail_domain.name)
    assert refused_as(relay, saraban["clerk"], f"saraban@{renamed}", saraban["inbox"]) == 0
    assert refused_as(relay, saraban["reader"], f"saraban@{renamed}", saraban["inbox"]) == 553
