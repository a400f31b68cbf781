"""An SMTP submission session that logged in does not outlive its credential: after a
password reset, an app password's revocation or a suspension (made through the services,
as the web, the API and the CLI do), the same session's next MAIL FROM (or a message
coming in meanwhile, at DATA) is refused with `421 4.7.0` and the relay closes the
connection, so an intruder's open session ends with the password it stole; a new login
with the new password sends. The relay compares the account's entry as its lookup reads
it with the entry the login was checked against (its entryCSN), so with the lookup cache
on, a session ends within `relay_lookup_cache_ttl` of a change nobody told the relay
about (a suspension): the last test waits for that by polling, without timing anything."""

from __future__ import annotations

import dataclasses
import smtplib
from collections.abc import Iterator
from typing import cast

import pytest

from mailgothai.core import password_reset as pr
from mailgothai.core.models import Status
from mailgothai.core.passwords import make_ssha
from mailgothai.directory.layout import Layout
from mailgothai.errors import StoreError
from mailgothai.services.password_reset import PasswordResetService, ResetConfig
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.second_factor import UserSecurity
from mailgothai.services.selfservice import SelfService
from mailgothai.services.usage import UsageRefresher
from mailgothai.settings import Settings
from relay.conftest import MailDomain, relay_with
from relay.helpers import PASSWORD, auth_code, message, submission, wait_for
from relay.reset_links import PUBLIC_URL, Outbox, confirmed_recovery_and_link
from tests.integration.conftest import stored

pytestmark = [pytest.mark.integration, pytest.mark.sql]  # failed SMTP AUTH logins pass the login budget

NEW_PASSWORD = "Reset-after-a-break-in-3"
TTL = 2  # relay_lookup_cache_ttl of the last test
LONG_TTL = 600  # longer than any wait of these tests


def sends(client: smtplib.SMTP, user: str, subject: str) -> bool:
    return client.sendmail(user, [user], message(user, user, subject)) == {}


def assert_ended(client: smtplib.SMTP, user: str) -> None:
    """The session's next MAIL FROM is refused, 421 with the reason, and the relay has
    closed the connection."""
    code, text = client.mail(user)
    assert (code, text[:5]) == (421, b"4.7.0"), (code, text)
    assert b"Login no longer valid" in text
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()


@pytest.fixture
def session_of(relay: Settings) -> Iterator[list[smtplib.SMTP]]:
    """Clients a test opens; closed after it whatever happened."""
    opened: list[smtplib.SMTP] = []
    yield opened
    for client in opened:
        client.close()


def open_session(relay: Settings, opened: list[smtplib.SMTP], user: str, password: str = PASSWORD) -> smtplib.SMTP:
    client = submission(relay, user, password)  # STARTTLS, then AUTH
    opened.append(client)
    return client


def test_an_admin_reset_ends_the_open_session_of_the_old_password_and_the_new_one_sends(
        relay: Settings, mail_domain: MailDomain, session_of: list[smtplib.SMTP]) -> None:
    user = mail_domain.account("breached")
    intruder = open_session(relay, session_of, user)
    assert sends(intruder, user, "sent with the stolen password")
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    assert_ended(intruder, user)
    assert auth_code(relay, user, PASSWORD) == 535
    owner = open_session(relay, session_of, user, NEW_PASSWORD)
    assert sends(owner, user, "first with the new password") and sends(owner, user, "and again")


def test_a_login_at_an_alias_domain_name_sends_and_ends_with_the_password(
        relay: Settings, mail_domain: MailDomain, session_of: list[smtplib.SMTP]) -> None:
    """A user logs in by the alias domain's name (issue 17): its session is held to the
    account it opens (the canonical login), so it sends, and a reset still ends it."""
    alias_domain = f"a{mail_domain.name}"
    mail_domain.services.domain_routing.add_alias_domain(alias_domain, mail_domain.name)
    user = mail_domain.account("by-alias")
    typed = user.replace(mail_domain.name, alias_domain)
    client = open_session(relay, session_of, typed)
    assert sends(client, typed, "first by the alias domain's name") and sends(client, user, "and again")
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    assert_ended(client, typed)


def test_the_upgrade_of_an_older_systems_hash_at_auth_does_not_end_that_session(
        relay: Settings, mail_domain: MailDomain, session_of: list[smtplib.SMTP]) -> None:
    """The relay rewrites a hash from an older system as argon2id at the account's first
    AUTH, which changes the entry: the session that made the change goes on sending (it
    had ended with 421 at its first MAIL FROM, "password changed", which nobody had done);
    a reset after it still ends it."""
    user = f"migrated@{mail_domain.name}"
    mail_domain.services.accounts.add(user, PasswordInput(stored_hash=make_ssha(PASSWORD)))
    dn = Layout(relay.ldap_base).account(user)
    client = open_session(relay, session_of, user)
    assert stored(relay, dn)[0].startswith("{ARGON2}"), "upgraded at this AUTH"
    assert sends(client, user, "first after the upgrade") and sends(client, user, "and again")
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    assert_ended(client, user)


def test_a_reset_link_whose_bookkeeping_fails_still_ends_the_session_and_is_recorded(
        relay: Settings, mail_domain: MailDomain, session_of: list[smtplib.SMTP],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The new password is written first; a failure of the SQL steps after it (here the web
    link's own bookkeeping) must not leave the old password's sessions open or the reset unrecorded."""
    user = mail_domain.account("half-way")
    backends = mail_domain.services.backends
    config, outbox = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0)), Outbox()
    _, token = confirmed_recovery_and_link(backends, user, config, outbox)
    client = open_session(relay, session_of, user)
    assert sends(client, user, "before")
    resets = PasswordResetService(backends, config, outbox)

    def store_down(*args: object, **kwargs: object) -> None:
        raise StoreError("store down")

    monkeypatch.setattr(resets.resets, "void", store_down)  # the account's other links voided
    with pytest.raises(StoreError):
        resets.reset(token, NEW_PASSWORD, NEW_PASSWORD)
    assert_ended(client, user)
    [record] = backends.audit.query(object_id=user, action="account.password", limit=1)
    assert record.after == {"by": "reset link"}


def test_a_reset_while_the_message_comes_in_refuses_it_at_data(relay: Settings, mail_domain: MailDomain,
                                                                session_of: list[smtplib.SMTP]) -> None:
    user = mail_domain.account("mid-message")
    client = open_session(relay, session_of, user)
    assert client.mail(user)[0] == 250 and client.rcpt(user)[0] == 250
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    code, text = client.data(message(user, user, "not accepted"))
    assert code == 421 and b"Login no longer valid" in text
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()


def test_a_revoked_app_password_ends_its_open_session(relay: Settings, mail_domain: MailDomain,
                                                     session_of: list[smtplib.SMTP]) -> None:
    user = mail_domain.account("phone-lost")
    security = UserSecurity(mail_domain.services.backends, user)
    app, secret = security.create_app_password("lost phone", PASSWORD)
    phone = open_session(relay, session_of, user, secret)
    assert sends(phone, user, "from the phone")
    security.revoke_app_password(app.id)
    assert_ended(phone, user)
    assert auth_code(relay, user, secret) == 535
    assert sends(open_session(relay, session_of, user), user, "the main password still sends")


def test_a_suspension_ends_the_accounts_open_session_and_no_one_elses(
        relay: Settings, mail_domain: MailDomain, session_of: list[smtplib.SMTP]) -> None:
    user, colleague = mail_domain.account("suspended"), mail_domain.account("colleague")
    theirs, other = open_session(relay, session_of, user), open_session(relay, session_of, colleague)
    assert sends(theirs, user, "before") and sends(other, colleague, "before")
    mail_domain.services.accounts.set_status(user, Status.DISABLED)
    assert_ended(theirs, user)
    assert sends(other, colleague, "the colleague's session goes on")
    assert auth_code(relay, user, PASSWORD) == 535


@pytest.mark.parametrize("change", ["own change", "reset link", "suspension", "domain suspension"])
def test_with_the_lookup_cache_on_every_service_change_ends_the_session_at_once(
        relay: Settings, mail_domain: MailDomain, session_of: list[smtplib.SMTP], change: str) -> None:
    """With answers cached for longer than any wait here, the services tell this node's relay
    about every change that ends a login (the user's own new password, one set through a
    reset link, the account's or its domain's suspension): the session's next MAIL FROM is
    refused, long before the cache would have let the relay see it by itself."""
    with relay_with(relay, relay_lookup_cache_ttl=LONG_TTL) as cached:
        user = mail_domain.account("told")
        client = open_session(cached, session_of, user)
        assert sends(client, user, "before") and sends(client, user, "from the cache")
        backends = mail_domain.services.backends
        if change == "own change":
            SelfService(backends, user, cast(UsageRefresher, None)).change_password(PASSWORD, NEW_PASSWORD,
                                                                                   NEW_PASSWORD)
        elif change == "reset link":
            config, outbox = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0)), Outbox()
            _, token = confirmed_recovery_and_link(backends, user, config, outbox)
            PasswordResetService(backends, config, outbox).reset(token, NEW_PASSWORD, NEW_PASSWORD)
        elif change == "suspension":
            mail_domain.services.accounts.set_status(user, Status.DISABLED)
        else:
            mail_domain.services.domains.set_status(mail_domain.name, Status.DISABLED)

        def refused() -> tuple[int, bytes] | None:
            code, text = client.mail(user)
            if code == 250:
                client.rset()
                return None
            return code, text

        # The relay handles its signal between commands: a MAIL FROM may come first. The
        # bound is far below the cache's life, which the relay would otherwise wait out.
        code, text = wait_for(refused, f"the session refused after the {change}", timeout=LONG_TTL / 10)
        assert code == 421 and b"Login no longer valid" in text


def test_with_the_lookup_cache_on_a_session_ends_within_its_time_to_live(
        relay: Settings, mail_domain: MailDomain, session_of: list[smtplib.SMTP]) -> None:
    """A change nobody tells this relay about (made on another node: here written to the
    directory without the services): the session's MAIL FROM is accepted while the lookup's
    answer from before it is cached, and refused once it was read again."""
    with relay_with(relay, relay_lookup_cache_ttl=TTL) as cached:
        user = mail_domain.account("cached")
        client = open_session(cached, session_of, user)
        assert sends(client, user, "before") and sends(client, user, "from the cache")
        directory = mail_domain.services.backends.accounts
        directory.save(dataclasses.replace(directory.get(user), status=Status.DISABLED))

        def refused() -> tuple[int, bytes] | None:
            code, text = client.mail(user)
            if code == 250:  # the entry from before the suspension, still cached
                client.rset()
                return None
            return code, text

        code, text = wait_for(refused, "the session's MAIL FROM refused after the suspension")
        assert code == 421 and b"Login no longer valid" in text
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
