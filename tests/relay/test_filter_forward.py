"""A forward rule saved through the filter service (issue 17): a message that matches it,
received at the relay's MX from outside, leaves through the relay to the remote address
(the test's smarthost), sent as the user, while a copy stays in the user's inbox; a
message that does not match is not forwarded."""

from __future__ import annotations

import uuid

import pytest

from mailgothai.services.filters import Filters
from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import PASSWORD, fetch_all, message, mx, wait_for, wait_for_messages

pytestmark = [pytest.mark.integration, pytest.mark.sql]
URGENT = "=?UTF-8?B?4LiU4LmI4Lin4LiZ4LiX4Li14LmI4Liq4Li44LiU?="  # ด่วนที่สุด, MIME-encoded


def test_a_forward_rule_sends_a_copy_out_through_the_relay_and_keeps_one(
        relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    user = mail_domain.account("director")
    target = f"director-phone-{uuid.uuid4().hex[:8]}@remote.example"
    state = Filters.of_user(mail_domain.services.backends, user).save(user, [
        {"field": "subject", "contains": "ด่วนที่สุด", "action": "forward", "address": target}],
        current_password=PASSWORD)  # a new forward asks for the user's password (issue 20)
    assert state.in_effect

    outsider = "ministry@outside.example"
    with mx(relay) as client:
        assert client.sendmail(outsider, [user], message(outsider, user, "ทั่วไป", "ไม่ต้องส่งต่อ\r\n")) == {}
        assert client.sendmail(outsider, [user], message(outsider, user, URGENT, "ส่งต่อ\r\n")) == {}

    [got] = wait_for(lambda: remote.messages_for(target), "the forwarded copy at the remote")
    assert next(sender for sender, rcpts, _ in remote.received if target in rcpts) == user  # sent as the user
    assert URGENT.encode() in got
    kept = wait_for_messages(relay, user, 2)  # both in the inbox: the forward kept its copy
    assert len(kept) == 2 and len(fetch_all(relay, user)) == 2
    assert len(remote.messages_for(target)) == 1  # the other message was not forwarded
