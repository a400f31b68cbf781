"""Reset links as the relay tests read them: mails kept instead of sent, the link's token
read from a mail, and a confirmed recovery address with an open link, as an intruder who
knew the password would have arranged them."""

from __future__ import annotations

import email
import email.policy
import re
import uuid

from mailgothai.services.backends import Backends
from mailgothai.services.password_reset import PasswordResetService, RecoveryService, ResetConfig, confirm_recovery
from relay.helpers import PASSWORD

PUBLIC_URL = "https://mail.example.go.th"


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []

    def send(self, account: str, recipients: list[str], message: bytes) -> None:
        self.sent.append((account, recipients, message))


def outside_address() -> str:
    return f"home-{uuid.uuid4().hex[:10]}@outside.example"


def link_in(message: bytes, path: str) -> str:
    body = email.message_from_bytes(message, policy=email.policy.default).get_body()
    assert body is not None
    found = re.search(re.escape(PUBLIC_URL + path) + r"/([A-Za-z0-9_-]{43})\b", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def confirmed_recovery_and_link(backends: Backends, user: str, config: ResetConfig,
                                outbox: Outbox, password: str = PASSWORD) -> tuple[str, str]:
    """(a confirmed recovery address, an open reset link sent to it), as an intruder who
    knew the password would have arranged them."""
    address = outside_address()
    RecoveryService(backends, user, config, outbox).set(address, password)
    confirm_recovery(backends, link_in(outbox.sent[-1][2], "/mail/recovery/confirm"), outbox)
    assert PasswordResetService(backends, config, outbox).send_reset(user)
    token = link_in(outbox.sent[-1][2], "/mail/reset")
    assert PasswordResetService(backends, config, outbox).check_link(token).email == user
    return address, token
