"""The relay's AUTH cache never outlives a change of the account: after a password
change or a suspension (made through the services, as the web and the CLI do) the old
password stops working within the directory lookup's cache time — on every relay, with
no signal sent to any of them — and the new one works."""

from __future__ import annotations

import time
from collections.abc import Iterator

import ldap3
import pytest

from mailgothai.core.models import Status
from mailgothai.directory.layout import Layout
from mailgothai.services.passwords import PasswordInput
from mailgothai.settings import Settings
from relay.conftest import MailDomain, relay_with, second_relay
from relay.helpers import PASSWORD, auth_code, message, submission

pytestmark = pytest.mark.integration

NEW_PASSWORD = "Changed-after-a-leak-2"
TTL = 2  # relay_lookup_cache_ttl of the second part


def sends(settings: Settings, user: str, password: str) -> bool:
    with submission(settings, user, password) as client:
        return client.sendmail(user, [user], message(user, user, "after the change")) == {}


def test_the_mail_server_reads_an_accounts_entry_csn_and_nothing_more(relay: Settings,
                                                                     mail_domain: MailDomain) -> None:
    """What the cache compares: readable by cn=mailserver (slapd ACL), changed by a
    password change, never writable; the password hash stays unreadable."""
    user = mail_domain.account("csn")
    server = ldap3.Server(relay.host, port=relay.ldap_port, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=relay.ldap_mail_dn, password=str(relay.ldap_mail_password),
                            raise_exceptions=False)
    assert conn.bind(), conn.result
    dn = Layout(relay.ldap_base).account(user)

    def read() -> dict[str, list[bytes]]:
        found = conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["entryCSN", "userPassword"])
        assert found, conn.result
        return dict(conn.response[0]["raw_attributes"])

    before = read()
    assert before["entryCSN"] and not before.get("userPassword")
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    after = read()
    assert after["entryCSN"] != before["entryCSN"] and not after.get("userPassword")
    conn.modify(dn, {"entryCSN": [(ldap3.MODIFY_REPLACE, [before["entryCSN"][0]])]})
    assert conn.result["result"] != 0 and read()["entryCSN"] == after["entryCSN"]
    conn.unbind()


# ---- the test relay: no lookup cache, so the bound is the very next login ----------------
def test_after_a_password_change_the_old_password_is_refused_and_the_new_one_works(
        relay: Settings, mail_domain: MailDomain) -> None:
    user = mail_domain.account("leaked")
    assert [auth_code(relay, user, PASSWORD) for _ in range(3)] == [235] * 3  # checked once, then cached
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    assert auth_code(relay, user, PASSWORD) == 535
    assert auth_code(relay, user, NEW_PASSWORD) == 235
    assert sends(relay, user, NEW_PASSWORD)
    assert auth_code(relay, user, PASSWORD) == 535  # the new login did not bring the old one back


def test_suspending_the_account_or_its_domain_ends_cached_logins(relay: Settings,
                                                                mail_domain: MailDomain) -> None:
    user, other = mail_domain.account("suspended"), mail_domain.account("colleague")
    assert [auth_code(relay, u, PASSWORD) for u in (user, user, other, other)] == [235] * 4
    mail_domain.services.accounts.set_status(user, Status.DISABLED)
    assert auth_code(relay, user, PASSWORD) == 535
    assert auth_code(relay, other, PASSWORD) == 235
    mail_domain.services.domains.set_status(mail_domain.name, Status.DISABLED)
    assert auth_code(relay, other, PASSWORD) == 535
    mail_domain.services.domains.set_status(mail_domain.name, Status.ACTIVE)
    mail_domain.services.accounts.set_status(user, Status.ACTIVE)
    assert auth_code(relay, user, PASSWORD) == 235 and auth_code(relay, other, PASSWORD) == 235


# ---- two relays with a lookup cache: the bound is its time to live ----------------------
@pytest.fixture(scope="module")
def two_relays(relay: Settings) -> Iterator[tuple[Settings, Settings]]:
    with relay_with(relay, relay_lookup_cache_ttl=TTL) as first, second_relay(first) as second:
        yield first, second


def test_two_relays_refuse_the_old_password_within_the_lookup_cache_time(
        two_relays: tuple[Settings, Settings], mail_domain: MailDomain) -> None:
    user = mail_domain.account("two-relays")
    for settings in two_relays:
        assert [auth_code(settings, user, PASSWORD) for _ in range(2)] == [235, 235]
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    time.sleep(TTL + 1)  # what each relay read of the entry before the change has expired
    for settings in two_relays:
        assert auth_code(settings, user, PASSWORD) == 535
        assert auth_code(settings, user, NEW_PASSWORD) == 235
    mail_domain.services.accounts.set_status(user, Status.DISABLED)
    time.sleep(TTL + 1)
    for settings in two_relays:
        assert auth_code(settings, user, NEW_PASSWORD) == 535
