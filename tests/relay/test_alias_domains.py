"""Alias domains (issue 17) with real clients: `domain alias add NEW --to EXISTING` makes
every address of EXISTING valid at NEW. Mail from outside to x@NEW lands in x@EXISTING's
INBOX; x logs in over IMAP as x@NEW and reaches the same mailbox; SMTP AUTH as x@NEW works
and x may send as x@NEW, another account may not; a suspended EXISTING suspends NEW; bad
input names the field and stores nothing; after removal NEW is no longer hosted."""

from __future__ import annotations

import smtplib
import uuid
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailgothai.core.models import Status
from mailgothai.settings import Settings
from relay.conftest import MailDomain
from relay.helpers import (
    PASSWORD,
    dns_records,
    fetch_all,
    message,
    mx,
    perl_verify,
    reload_relay,
    submission,
    wait_for_messages,
)
from tests.conftest import Cli
from tests.integration.conftest import AuditProbe

pytestmark = [pytest.mark.integration, pytest.mark.sql]
STRANGER = "someone@elsewhere.example"


@pytest.fixture
def audit(stack: Settings) -> AuditProbe:
    return AuditProbe(stack)


@pytest.fixture
def new_name() -> str:
    return f"renamed{uuid.uuid4().hex[:8]}.go.th"


def _rcpt(client: smtplib.SMTP, rcpt: str) -> tuple[int, bytes]:
    client.rset()
    assert client.docmd("MAIL", f"FROM:<{STRANGER}>")[0] == 250
    return client.docmd("RCPT", f"TO:<{rcpt}>")


def _auth_refused(settings: Settings, user: str, password: str = PASSWORD) -> None:
    client = submission(settings)
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(user, password)
    finally:
        client.close()


def _imap_login(settings: Settings, user: str, password: str = PASSWORD) -> list[bytes]:
    return fetch_all(settings, user, password)


def test_mail_to_the_alias_domain_reaches_the_same_mailbox_and_its_user_logs_in_by_either_name(
        relay: Settings, mail_domain: MailDomain, new_name: str, cli: Cli, audit: AuditProbe) -> None:
    somchai = mail_domain.account("somchai")
    alias_address = f"somchai@{new_name}"
    with mx(relay) as client:
        assert _rcpt(client, alias_address)[0] == 554, "not hosted before"
    done = cli("domain", "alias", "add", new_name.upper(), "--to", mail_domain.name)
    assert done.returncode == 0, done.stderr
    assert audit.count(action="alias_domain.create", object_id=new_name) == 1
    listed = cli("domain", "alias", "list", mail_domain.name)
    assert listed.stdout.split() == [new_name, mail_domain.name]

    with mx(relay) as client:
        assert client.sendmail(STRANGER, [alias_address], message(STRANGER, alias_address, "to-new-name")) == {}
        code, reply = _rcpt(client, f"nobody@{new_name}")
        assert (code, reply[:5]) == (550, b"5.1.1"), "unknown at NEW as at EXISTING"
    [got] = wait_for_messages(relay, somchai)
    assert b"Subject: to-new-name" in got

    [same] = _imap_login(relay, alias_address)  # IMAP login as x@NEW: the same INBOX
    assert b"Subject: to-new-name" in same
    with pytest.raises(LoginError):
        _imap_login(relay, alias_address, "Wrong-password-1")
    with IMAPClient(relay.host, port=relay.imap_port, ssl=False, timeout=30) as imap:
        imap.login(alias_address, PASSWORD)
        imap.select_folder("INBOX")
        imap.append("INBOX", message(alias_address, somchai, "appended-as-new-name"))
    assert any(b"Subject: appended-as-new-name" in m for m in fetch_all(relay, somchai))


def test_the_owner_sends_as_either_name_and_nobody_else_as_its_alias_domain_address(
        relay: Settings, mail_domain: MailDomain, new_name: str) -> None:
    somchai, malee = mail_domain.account("somchai"), mail_domain.account("malee")
    mail_domain.services.domain_routing.add_alias_domain(new_name, mail_domain.name)
    as_new = f"somchai@{new_name}"
    with submission(relay, as_new) as client:  # SMTP AUTH as x@NEW
        assert client.sendmail(as_new, [malee], message(as_new, malee, "sent-as-new-name")) == {}
    with submission(relay, somchai) as client:  # logged in as x@EXISTING, sending as x@NEW
        assert client.sendmail(as_new, [malee], message(as_new, malee, "sent-as-new-name-2")) == {}
    got = wait_for_messages(relay, malee, 2)
    assert all(f"From: <{as_new}>".encode() in m for m in got)
    with submission(relay, f"malee@{new_name}") as client:
        code, reply = client.docmd("MAIL", f"FROM:<{as_new}>")
        assert (code, reply[:5]) == (553, b"5.7.1"), "another account may not send as x@NEW"
        client.rset()
        assert client.docmd("MAIL", f"FROM:<malee@{new_name}>")[0] == 250
        assert client.docmd("RCPT", f"TO:<{somchai}>")[0] == 250
        code, reply = client.data(message(as_new, somchai, "forged"))
        assert (code, reply[:5]) == (550, b"5.7.1"), "nor put it in From:"
    _auth_refused(relay, as_new, "Wrong-password-1")


def test_a_suspended_domain_suspends_its_alias_domain(
        relay: Settings, mail_domain: MailDomain, new_name: str) -> None:
    somchai = mail_domain.account("somchai")
    mail_domain.services.domain_routing.add_alias_domain(new_name, mail_domain.name)
    assert _imap_login(relay, f"somchai@{new_name}") == []
    mail_domain.services.domains.set_status(mail_domain.name, Status.DISABLED)
    with mx(relay) as client:
        code, reply = _rcpt(client, f"somchai@{new_name}")
        assert (code, reply[:5]) == (550, b"5.2.1")
    with pytest.raises(LoginError):
        _imap_login(relay, f"somchai@{new_name}")
    _auth_refused(relay, f"somchai@{new_name}")
    mail_domain.services.domains.set_status(mail_domain.name, Status.ACTIVE)
    assert _imap_login(relay, somchai) == []


def test_a_removed_alias_domain_is_no_longer_hosted(
        relay: Settings, mail_domain: MailDomain, new_name: str, cli: Cli, audit: AuditProbe) -> None:
    mail_domain.account("somchai")
    mail_domain.services.domain_routing.add_alias_domain(new_name, mail_domain.name)
    done = cli("domain", "alias", "remove", new_name)
    assert done.returncode == 0, done.stderr
    assert audit.count(action="alias_domain.delete", object_id=new_name) == 1
    assert cli("domain", "alias", "list", mail_domain.name).stdout == ""
    with mx(relay) as client:
        assert _rcpt(client, f"somchai@{new_name}")[0] == 554
    with pytest.raises(LoginError):
        _imap_login(relay, f"somchai@{new_name}")
    assert cli("domain", "alias", "remove", new_name).returncode == 1  # gone: not found


def test_the_name_of_an_alias_domain_cannot_be_added_as_a_domain(
        relay: Settings, mail_domain: MailDomain, new_name: str, cli: Cli) -> None:
    mail_domain.services.domain_routing.add_alias_domain(new_name, mail_domain.name)
    done = cli("domain", "add", new_name)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip().splitlines()[-1].startswith("mailgothai: error: domain: "), done.stderr


BAD = [
    (("{other}", "--to", "{domain}"), "alias_domain"),  # already hosted as a domain
    (("{alias}", "--to", "{other}"), "alias_domain"),  # already an alias domain (of {domain})
    (("{domain}", "--to", "{domain}"), "alias_domain"),  # itself
    (("{new}", "--to", "unknown{tag}.go.th"), "to"),  # no such domain
    (("{new}", "--to", "{alias}"), "to"),  # an alias domain itself
    (("not a domain!", "--to", "{domain}"), "alias_domain"),
    (("{new}", "--to", "bad..name"), "to"),
]


@pytest.mark.parametrize("args,field", BAD, ids=[f"{a[0]}-{a[2]}-{f}" for a, f in BAD])
def test_bad_alias_domains_are_refused_naming_the_field_and_nothing_is_stored(
        relay: Settings, mail_domain: MailDomain, new_name: str, cli: Cli, audit: AuditProbe,
        args: tuple[str, ...], field: str) -> None:
    other = f"o{uuid.uuid4().hex[:10]}.go.th"
    mail_domain.services.domains.add(other)
    alias = f"a{uuid.uuid4().hex[:10]}.go.th"
    mail_domain.services.domain_routing.add_alias_domain(alias, mail_domain.name)
    names = {"domain": mail_domain.name, "other": other, "alias": alias, "new": new_name,
             "tag": uuid.uuid4().hex[:6]}
    before, count = cli("domain", "alias", "list").stdout, audit.count()
    done = cli("domain", "alias", "add", *(a.format(**names) for a in args))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip().splitlines()[-1].startswith(f"mailgothai: error: {field}: "), done.stderr
    assert cli("domain", "alias", "list").stdout == before
    assert audit.count() == count
    assert mail_domain.services.domains.get(other).name == other


def test_a_suspended_account_cannot_log_in_by_its_alias_domain_name_either(
        relay: Settings, mail_domain: MailDomain, new_name: str) -> None:
    somchai = mail_domain.account("somchai")
    mail_domain.services.domain_routing.add_alias_domain(new_name, mail_domain.name)
    as_new = f"somchai@{new_name}"
    assert _imap_login(relay, as_new) == []  # a success Dovecot may cache
    with submission(relay, as_new):
        pass
    mail_domain.services.accounts.set_status(somchai, Status.DISABLED)
    with pytest.raises(LoginError):
        _imap_login(relay, as_new)
    _auth_refused(relay, as_new)


def test_mail_sent_as_the_alias_domain_is_signed_with_its_own_key_when_it_has_one(
        relay: Settings, mail_domain: MailDomain, new_name: str, tmp_path: Path) -> None:
    somchai, malee = mail_domain.account("somchai"), mail_domain.account("malee")
    mail_domain.services.domain_routing.add_alias_domain(new_name, mail_domain.name)
    mail_domain.services.dkim.generate(new_name, "rsa")  # the operator publishes its record under NEW
    reload_relay(relay)
    as_new = f"somchai@{new_name}"
    with submission(relay, somchai) as client:
        assert client.sendmail(as_new, [malee], message(as_new, malee, "signed-as-new-name")) == {}
    [got] = wait_for_messages(relay, malee)
    assert f"d={new_name}".encode() in got.split(b"\r\n\r\n", 1)[0]
    perl = perl_verify(got, dns_records(mail_domain.services, new_name), tmp_path)
    assert perl.overall == "pass", perl.lines
