"""A new password ends the account's open IMAP and ManageSieve sessions, against the real
Dovecot: after a break-in, an intruder's session opened with the old password must not
outlive it. So for an admin's reset, a reset through the link, and the user's own change
(whose own mail client logs in again, with the new password). A domain's suspension ends its
accounts' sessions, and turning on the second factor those the main password opened."""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import uuid
from collections.abc import Callable, Iterator
from typing import cast
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from relay.reset_links import PUBLIC_URL, Outbox, confirmed_recovery_and_link

from mailgothai.core import password_reset as pr
from mailgothai.core.models import Status
from mailgothai.services.password_reset import PasswordResetService, ResetConfig
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.second_factor import UserSecurity
from mailgothai.services.selfservice import SelfService
from mailgothai.services.usage import UsageRefresher
from mailgothai.settings import Settings
from tests.integration.conftest import MailClients, imap_alive
from tests.integration.managesieve import ManageSieve

pytestmark = [pytest.mark.integration, pytest.mark.sql]

OLD = "Old-session-pw-1x"
NEW = "New-session-pw-2y"



class LoggedInSieve(ManageSieve):
    """A ManageSieve session logged in over STARTTLS."""

    def __init__(self, stack: Settings, user: str, password: str) -> None:
        raw = socket.create_connection((stack.host, stack.managesieve_port), timeout=30)
        super().__init__(raw)
        self.response()
        assert self.command("STARTTLS")[-1].startswith("OK")
        context = ssl.create_default_context(cafile=str(stack.tls_cert_path))
        self.sock, self.buffer = context.wrap_socket(raw, server_hostname=stack.host), b""
        self.response()  # the capabilities again after TLS
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        assert self.command(f'AUTHENTICATE "PLAIN" "{token}"')[-1].startswith("OK")

    def alive(self) -> bool:
        try:
            return self.command("NOOP")[-1].startswith("OK")
        except OSError:
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def _open_sessions(stack: Settings, mail: MailClients, user: str) -> Iterator[Callable[[], tuple[bool, bool]]]:
    """An IMAP session (INBOX selected, as a mail client keeps it) and a ManageSieve one,
    opened with the old password; yields a probe: (IMAP alive, ManageSieve alive)."""
    sieve = LoggedInSieve(stack, user, OLD)
    try:
        with mail.imap(user, OLD) as imap:
            imap.select_folder("INBOX")
            assert imap_alive(imap) and sieve.alive()
            yield lambda: (imap_alive(imap), sieve.alive())
    finally:
        sieve.close()


def _user(services: Services, domain: str) -> str:
    user = f"u{uuid.uuid4().hex[:8]}@{domain}"
    services.accounts.add(user, PasswordInput(plain=OLD))
    return user


def test_an_admins_reset_ends_the_accounts_open_sessions(stack: Settings, services: Services, domain: str,
                                                         mail: MailClients) -> None:
    user = _user(services, domain)
    with _open_sessions(stack, mail, user) as alive:
        services.accounts.set_password(user, PasswordInput(plain=NEW), must_change=False)
        assert alive() == (False, False)
    assert mail.can_login(user, NEW) and not mail.can_login(user, OLD)


def test_a_reset_through_the_link_ends_the_accounts_open_sessions(stack: Settings, services: Services,
                                                                  domain: str, mail: MailClients) -> None:
    user = _user(services, domain)
    config, outbox = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0)), Outbox()
    _, token = confirmed_recovery_and_link(services.backends, user, config, outbox, password=OLD)
    with _open_sessions(stack, mail, user) as alive:
        PasswordResetService(services.backends, config, outbox).reset(token, NEW, NEW)
        assert alive() == (False, False)
    assert mail.can_login(user, NEW) and not mail.can_login(user, OLD)


def test_the_users_own_change_ends_the_accounts_open_sessions(stack: Settings, services: Services,
                                                              domain: str, mail: MailClients) -> None:
    user = _user(services, domain)
    with _open_sessions(stack, mail, user) as alive:
        SelfService(services.backends, user, cast(UsageRefresher, None)).change_password(OLD, NEW, NEW)
        assert alive() == (False, False)
    assert mail.can_login(user, NEW) and not mail.can_login(user, OLD)


def test_turning_on_the_second_factor_ends_the_sessions_the_main_password_opened(
        stack: Settings, services: Services, domain: str, mail: MailClients) -> None:
    """With TOTP on, the main password opens the web only: its open IMAP and ManageSieve
    sessions (an intruder's, perhaps the reason the user turned it on) end too."""
    user = _user(services, domain)
    security = UserSecurity(services.backends, user)
    secret = parse_qs(urlsplit(security.start_totp()).query)["secret"][0]
    with _open_sessions(stack, mail, user) as alive:
        security.enable_totp(OLD, pyotp.TOTP(secret).now())
        assert alive() == (False, False)
    assert not mail.can_login(user, OLD)


def test_suspending_a_domain_ends_its_accounts_open_sessions_and_no_others(
        stack: Settings, services: Services, domain: str, mail: MailClients) -> None:
    """An operator suspends an agency (a break-in, an unpaid bill): its users' open IMAP and
    ManageSieve sessions end too, not only their next logins; another agency's go on."""
    other = services.domains.add(f"k{uuid.uuid4().hex[:8]}.go.th").name
    user, bystander = _user(services, other), _user(services, domain)
    with _open_sessions(stack, mail, user) as alive, _open_sessions(stack, mail, bystander) as bystanders:
        services.domains.set_status(other, Status.DISABLED)
        assert alive() == (False, False)
        assert bystanders() == (True, True)
    assert not mail.can_login(user, OLD) and mail.can_login(bystander, OLD)
