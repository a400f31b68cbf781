"""Issue 15 item 10: one failure budget per account across IMAP (real Dovecot asking the
stack's auth policy service), SMTP AUTH (the real relay) and the admin web (the stack's
own `mailgothai serve`), counted per account and source.

The attacker and the user are two sources on loopback: 127.0.0.1 and 127.0.0.2 (every
client binds its socket to its source). Five failures from the attacker's source,
spread over the three protocols (2 IMAP, 2 SMTP AUTH, 1 web: fewer than any one of them
would have refused on its own) make that source refused on all three, even with the
right password, while the same account logs in from the user's source on all three.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import smtplib
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from mailgothai.core.login_budget import keys_for
from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import manager
from mailgothai.store.login_budget import LoginTallies
from tests.conftest import stack_data_dir, stack_settings
from tests.relay.helpers import tls_client_context

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PASSWORD = "Budget-test-pass-1"
ATTACKER, USER = "127.0.0.1", "127.0.0.2"
# Refusals longer than any test run: nothing here depends on how fast the machine is.
LONG = {"login_refusal_base": 3600, "login_refusal_max": 3600}


@pytest.fixture(scope="module")
def budget_stack() -> Iterator[Settings]:
    with stack_data_dir("budget") as data_dir:
        state = manager.up(stack_settings(data_dir, **LONG))
        try:
            yield state.settings
        finally:
            manager.down(state.settings)


class SourceIMAP(imaplib.IMAP4):
    """imaplib's client, connecting from a given local address."""

    def __init__(self, host: str, port: int, source: str) -> None:
        self.source = source
        super().__init__(host, port, timeout=60)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))


def imap_ok(settings: Settings, user: str, password: str, source: str) -> bool:
    client = SourceIMAP(settings.host, settings.imap_port, source)
    try:
        client.starttls(ssl_context=tls_client_context())
        client.login(user, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def smtp_auth(settings: Settings, user: str, password: str, source: str) -> int:
    with smtplib.SMTP(settings.host, settings.submission_port, timeout=60, source_address=(source, 0)) as client:
        client.ehlo("client.test")
        client.starttls(context=tls_client_context())
        client.ehlo("client.test")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return client.docmd("AUTH", f"PLAIN {token}")[0]


def web_login(settings: Settings, user: str, password: str, source: str) -> int:
    scheme = "https" if settings.web_tls else "http"
    transport = httpx.HTTPTransport(local_address=source, verify=False)
    with httpx.Client(base_url=f"{scheme}://{settings.host}:{settings.web_port}", transport=transport,
                      timeout=60, headers={"Accept-Language": "en"}) as web:
        page = web.get("/mail/login")
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        return web.post("/mail/login", data={"email": user, "password": password, "csrf_token": csrf}).status_code


def test_failures_over_imap_smtp_and_web_share_one_budget_and_the_user_elsewhere_still_logs_in(
        budget_stack: Settings) -> None:
    settings = budget_stack
    domain = f"b{uuid.uuid4().hex[:8]}.go.th"
    user = f"somchai@{domain}"
    with Services.open(settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, description="test")
        svc.accounts.add(user, PasswordInput(plain=PASSWORD), given_name="สมชาย")
    status = manager.status(settings).as_dict()
    assert status["auth_policy"] == f"http://{settings.host}:{settings.auth_policy_port}/"
    assert status["processes"]["auth-policy"]["running"] is True

    # Before anything failed, every protocol lets the right password in from the attacker's source.
    assert imap_ok(settings, user, PASSWORD, ATTACKER)

    # The attacker guesses: 2 over IMAP, 2 over SMTP AUTH, 1 on the web.
    assert [imap_ok(settings, user, "wrong-1", ATTACKER), imap_ok(settings, user, "wrong-2", ATTACKER)] == [False] * 2
    assert [smtp_auth(settings, user, "wrong-3", ATTACKER), smtp_auth(settings, user, "wrong-4", ATTACKER)] == [535] * 2
    assert web_login(settings, user, "wrong-5", ATTACKER) == 401

    # Now that source is refused on all three, even with the right password.
    assert imap_ok(settings, user, PASSWORD, ATTACKER) is False
    assert smtp_auth(settings, user, PASSWORD, ATTACKER) == 454
    assert web_login(settings, user, PASSWORD, ATTACKER) == 429

    # The user, from another source, is not locked out anywhere.
    assert imap_ok(settings, user, PASSWORD, USER) is True
    assert smtp_auth(settings, user, PASSWORD, USER) == 235
    assert web_login(settings, user, PASSWORD, USER) == 303

    # Their success does not free the attacker's source.
    assert imap_ok(settings, user, PASSWORD, ATTACKER) is False
    assert smtp_auth(settings, user, PASSWORD, ATTACKER) == 454


def test_failures_in_the_alias_domain_form_over_imap_count_for_the_real_address(budget_stack: Settings) -> None:
    """local@ALIAS logs in to local@DOMAIN's mailbox (issue 17). Dovecot names the login
    to the policy service as typed; the service counts and checks it under local@DOMAIN,
    as the relay and the web do. (It counted the alias form apart: after its failures the
    real address still logged in from the same source, over IMAP, SMTP AUTH and the web.)"""
    settings = budget_stack
    tag = uuid.uuid4().hex[:8]
    domain, alias = f"b{tag}.go.th", f"al{tag}.go.th"
    user, typed = f"somchai@{domain}", f"SomChai@{alias.upper()}"
    with Services.open(settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, description="test")
        svc.accounts.add(user, PasswordInput(plain=PASSWORD), given_name="สมชาย")
        svc.domain_routing.add_alias_domain(alias, domain)
    assert imap_ok(settings, typed, PASSWORD, ATTACKER)  # the alias form logs in

    assert [imap_ok(settings, typed, f"wrong-{i}", ATTACKER) for i in range(5)] == [False] * 5
    assert imap_ok(settings, typed, PASSWORD, ATTACKER) is False  # refused, in either form
    assert imap_ok(settings, user, PASSWORD, ATTACKER) is False
    assert smtp_auth(settings, typed, PASSWORD, ATTACKER) == 454

    real, alias_form = keys_for(user, ATTACKER), keys_for(f"somchai@{alias}", ATTACKER)
    with Services.open(settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        tallies = LoginTallies(svc.backends.store).read((*real.all, *alias_form.all))
    assert tallies[real.pair].failures >= 5 and tallies[real.account].failures >= 5  # the real address's
    assert alias_form.pair not in tallies and alias_form.account not in tallies
    assert imap_ok(settings, typed, PASSWORD, USER) is True  # the user elsewhere logs in



def _second_factor_on_with_app_password(settings: Settings) -> tuple[str, str]:
    """A new account with TOTP on (its main password then opens the web only) and an app
    password (for IMAP and SMTP AUTH): (address, app password)."""
    from urllib.parse import parse_qs, urlsplit

    import pyotp

    from mailgothai.services.second_factor import UserSecurity

    domain = f"b{uuid.uuid4().hex[:8]}.go.th"
    user = f"somchai@{domain}"
    with Services.open(settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, description="test")
        svc.accounts.add(user, PasswordInput(plain=PASSWORD), given_name="สมชาย")
        security = UserSecurity(svc.backends, user)
        _, app_password = security.create_app_password("phone", PASSWORD)
        totp = pyotp.TOTP(parse_qs(urlsplit(security.start_totp()).query)["secret"][0])
        security.enable_totp(PASSWORD, totp.now())
    return user, app_password


@pytest.mark.parametrize("door", ["smtp", "imap"])
def test_an_app_password_login_does_not_clear_the_webs_password_guesses_of_a_second_factor_account(
        budget_stack: Settings, door: str) -> None:
    """With a second factor on, IMAP and SMTP AUTH take only app passwords: their success
    proves nothing about the main password the web's failures guess, so it clears none of
    them (it did: an app password used every 4 guesses let the guessing go on forever)."""
    settings = budget_stack
    user, app_password = _second_factor_on_with_app_password(settings)
    source = {"smtp": "127.0.0.3", "imap": "127.0.0.4"}[door]
    assert [web_login(settings, user, f"guess-{i}", source) for i in range(4)] == [401] * 4
    if door == "smtp":
        assert smtp_auth(settings, user, app_password, source) == 235
    else:
        assert imap_ok(settings, user, app_password, source) is True
    assert web_login(settings, user, "guess-5", source) == 401  # the 5th guess: now refused
    assert web_login(settings, user, PASSWORD, source) == 429


@pytest.mark.parametrize("door", ["smtp", "imap"])
def test_an_app_password_login_does_not_clear_the_main_password_guesses_of_an_account_without_a_second_factor(
        budget_stack: Settings, door: str) -> None:
    """Without a second factor the main password and the app passwords are counted under the
    one login name (IMAP, SMTP AUTH and the web all take the main password). A success with an
    app password proves the app password, not the main password, so it clears none of the
    failures there (it did: the victim's mail client logging in reset the guesser's count)."""
    from mailgothai.services.second_factor import UserSecurity

    settings = budget_stack
    domain = f"b{uuid.uuid4().hex[:8]}.go.th"
    user = f"somchai@{domain}"
    with Services.open(settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, description="test")
        svc.accounts.add(user, PasswordInput(plain=PASSWORD), given_name="สมชาย")
        _, app_password = UserSecurity(svc.backends, user).create_app_password("phone", PASSWORD)
    source = {"smtp": "127.0.0.5", "imap": "127.0.0.6"}[door]
    # 4 guesses at the main password: 2 on the web, 1 over IMAP, 1 over SMTP AUTH
    assert [web_login(settings, user, f"guess-{i}", source) for i in range(2)] == [401] * 2
    assert imap_ok(settings, user, "guess-2", source) is False
    assert smtp_auth(settings, user, "guess-3", source) == 535
    # the mail client logs in with its app password from the same source (a shared NAT address)
    if door == "smtp":
        assert smtp_auth(settings, user, app_password, source) == 235
    else:
        assert imap_ok(settings, user, app_password, source) is True
    assert web_login(settings, user, "guess-4", source) == 401  # the 5th guess: now refused
    assert web_login(settings, user, PASSWORD, source) == 429
    assert smtp_auth(settings, user, PASSWORD, source) == 454
    assert imap_ok(settings, user, PASSWORD, source) is False
    assert web_login(settings, user, PASSWORD, USER) == 303  # the user elsewhere still logs in
