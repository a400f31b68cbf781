"""A domain's catch-all (issue 17), through the CLI and real clients: off by default (an
unknown recipient gets 550 5.1.1 at RCPT), on: an unknown recipient is accepted on the MX
and its mail lands in the catch-all's mailbox (read over IMAP); off again: 550 again. The
catch-all never reaches outside, and a catch-all whose address is gone or suspended
leaves unknown addresses refused at RCPT (never accepted and lost). Bad input is refused
at the CLI naming the field, with nothing stored."""

from __future__ import annotations

import smtplib
import uuid

import pytest

from mailgothai.core.models import Role, Status
from mailgothai.errors import InvalidInput
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import PASSWORD, fetch_all, message, mx, wait_for, wait_for_messages
from tests.conftest import Cli
from tests.integration.conftest import AuditProbe

pytestmark = [pytest.mark.integration, pytest.mark.sql]
STRANGER = "someone@elsewhere.example"


@pytest.fixture
def audit(stack: Settings) -> AuditProbe:
    return AuditProbe(stack)


def _rcpt(client: smtplib.SMTP, rcpt: str) -> tuple[int, bytes]:
    client.rset()
    assert client.docmd("MAIL", f"FROM:<{STRANGER}>")[0] == 250
    return client.docmd("RCPT", f"TO:<{rcpt}>")


def _other_domain(mail_domain: MailDomain) -> MailDomain:
    other = MailDomain(f"c{uuid.uuid4().hex[:10]}.go.th", mail_domain.services)
    other.services.domains.add(other.name, description="another agency")
    return other


def test_catch_all_on_delivers_unknown_recipients_and_off_refuses_them(
        relay: Settings, mail_domain: MailDomain, cli: Cli) -> None:
    info = mail_domain.account("info")
    unknown = f"made-up-{uuid.uuid4().hex[:6]}@{mail_domain.name}"
    with mx(relay) as client:
        code, reply = _rcpt(client, unknown)
        assert (code, reply[:5]) == (550, b"5.1.1"), "off by default"

    done = cli("domain", "set", mail_domain.name, "--catch-all", info.upper())
    assert done.returncode == 0, done.stderr
    assert mail_domain.services.domains.get(mail_domain.name).catch_all == info
    with mx(relay) as client:
        assert _rcpt(client, unknown)[0] == 250
        assert client.data(message(STRANGER, unknown, "to-a-made-up-address"))[0] == 250
    [got] = wait_for_messages(relay, info)
    assert b"Subject: to-a-made-up-address" in got
    assert f"To: <{unknown}>".encode() in got

    done = cli("domain", "set", mail_domain.name, "--no-catch-all")
    assert done.returncode == 0, done.stderr
    assert mail_domain.services.domains.get(mail_domain.name).catch_all == ""
    with mx(relay) as client:
        code, reply = _rcpt(client, unknown)
        assert (code, reply[:5]) == (550, b"5.1.1")
        assert _rcpt(client, info)[0] == 250, "known addresses are as before"


def test_known_addresses_and_postmaster_keep_their_own_routes_under_a_catch_all(
        relay: Settings, mail_domain: MailDomain) -> None:
    info, staff = mail_domain.account("info"), mail_domain.account("staff")
    routing = mail_domain.services.domain_routing
    routing.set_catch_all(mail_domain.name, info)
    mail_domain.services.aliases.add(f"postmaster@{mail_domain.name}", (staff,))
    with mx(relay) as client:
        for rcpt, subject in ((staff, "to-staff"), (f"postmaster@{mail_domain.name}", "to-postmaster")):
            assert _rcpt(client, rcpt)[0] == 250
            assert client.data(message(STRANGER, rcpt, subject))[0] == 250
    got = wait_for_messages(relay, staff, 2)
    assert {b"to-staff", b"to-postmaster"} == {s for s in (b"to-staff", b"to-postmaster")
                                                if any(b"Subject: " + s in m for m in got)}
    assert all(b"Subject: to-" not in m for m in fetch_all(relay, info))


def test_catch_all_mail_never_leaves_for_outside_forwards(
        relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    outside = f"fwd-{uuid.uuid4().hex[:8]}@outside.example"
    info = mail_domain.account("info", forwards=(outside,))
    mail_domain.services.domain_routing.set_catch_all(mail_domain.name, info)
    with mx(relay) as client:
        rcpt = f"spam-target-{uuid.uuid4().hex[:6]}@{mail_domain.name}"
        assert _rcpt(client, rcpt)[0] == 250
        assert client.data(message(STRANGER, rcpt, "guessed-address"))[0] == 250
        assert _rcpt(client, info)[0] == 250
        assert client.data(message(STRANGER, info, "to-info-itself"))[0] == 250
    got = wait_for_messages(relay, info, 2)
    assert any(b"Subject: guessed-address" in m for m in got)
    forwarded = wait_for(lambda: remote.messages_for(outside), f"mail for {outside} at the fake remote")
    assert any(b"Subject: to-info-itself" in m for m in forwarded), "its own mail is forwarded as before"
    assert not any(b"Subject: guessed-address" in m for m in remote.messages_for(outside))


def test_a_suspended_or_deleted_catch_all_leaves_unknown_addresses_refused(
        relay: Settings, mail_domain: MailDomain) -> None:
    info = mail_domain.account("info")
    mail_domain.services.domain_routing.set_catch_all(mail_domain.name, info)
    unknown = f"nobody@{mail_domain.name}"
    mail_domain.services.accounts.set_status(info, Status.DISABLED)
    with mx(relay) as client:
        code, reply = _rcpt(client, unknown)
        assert (code, reply[:5]) == (550, b"5.1.1")
    mail_domain.services.accounts.set_status(info, Status.ACTIVE)
    with mx(relay) as client:
        assert _rcpt(client, unknown)[0] == 250
    mail_domain.services.accounts.delete(info)
    with mx(relay) as client:
        code, reply = _rcpt(client, unknown)
        assert (code, reply[:5]) == (550, b"5.1.1")


def test_a_suspended_domain_refuses_everything_whatever_its_catch_all(
        relay: Settings, mail_domain: MailDomain) -> None:
    info = mail_domain.account("info")
    mail_domain.services.domain_routing.set_catch_all(mail_domain.name, info)
    mail_domain.services.domains.set_status(mail_domain.name, Status.DISABLED)
    with mx(relay) as client:
        code, reply = _rcpt(client, f"nobody@{mail_domain.name}")
        assert (code, reply[:5]) == (550, b"5.2.1")


def test_a_catch_all_may_be_an_alias_or_an_address_of_another_domain_here(
        relay: Settings, mail_domain: MailDomain) -> None:
    other = _other_domain(mail_domain)
    central = other.account("central")
    team = f"team@{mail_domain.name}"
    mail_domain.services.aliases.add(team, (central,))
    routing = mail_domain.services.domain_routing
    routing.set_catch_all(mail_domain.name, team)
    with mx(relay) as client:
        rcpt = f"anything@{mail_domain.name}"
        assert _rcpt(client, rcpt)[0] == 250
        assert client.data(message(STRANGER, rcpt, "via-alias"))[0] == 250
    [got] = wait_for_messages(relay, central)
    assert b"Subject: via-alias" in got
    assert routing.set_catch_all(mail_domain.name, central).catch_all == central


BAD = [
    (("--catch-all", "someone@gmail.com"), "catch_all"),  # outside: never
    (("--catch-all", "nobody@{domain}"), "catch_all"),  # not an existing account or alias
    (("--catch-all", "not an address"), "catch_all"),
    (("--catch-all", "info@{domain}", "--max-message-size", "0"), "max_message_size"),
]


@pytest.mark.parametrize("args,field", BAD, ids=[f"{a[1]}-{f}" for a, f in BAD])
def test_bad_catch_all_is_refused_at_the_cli_naming_the_field_and_nothing_is_stored(
        relay: Settings, mail_domain: MailDomain, cli: Cli, audit: AuditProbe, args: tuple[str, ...],
        field: str) -> None:
    mail_domain.account("info")
    before, count = mail_domain.services.domains.get(mail_domain.name), audit.count()
    done = cli("domain", "set", mail_domain.name, *(a.format(domain=mail_domain.name) for a in args))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip().splitlines()[-1].startswith(f"mailgothai: error: {field}: "), done.stderr
    assert mail_domain.services.domains.get(mail_domain.name) == before
    assert audit.count() == count


def test_a_domain_admin_sets_its_catch_all_within_its_domains_only(
        stack: Settings, relay: Settings, mail_domain: MailDomain, audit: AuditProbe) -> None:
    mine, theirs = _other_domain(mail_domain), _other_domain(mail_domain)
    info, central, foreign = mail_domain.account("info"), mine.account("central"), theirs.account("desk")
    login = f"adm{uuid.uuid4().hex[:8]}"
    mail_domain.services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD),
                                    domains=(mail_domain.name, mine.name))
    with Services.open(stack, Actor(login, Role.DOMAIN_ADMIN, frozenset({mail_domain.name, mine.name}),
                                    origin="test")) as svc:
        assert svc.domain_routing.set_catch_all(mail_domain.name, info).catch_all == info
        assert svc.domain_routing.set_catch_all(mail_domain.name, central).catch_all == central
        count = audit.count()
        with pytest.raises(InvalidInput) as refused:
            svc.domain_routing.set_catch_all(mail_domain.name, foreign)  # another agency's: not its reach
        assert refused.value.field == "catch_all"
        assert audit.count() == count
        assert svc.domain_routing.set_catch_all(mail_domain.name, None).catch_all == ""
    assert audit.count(action="domain.catch_all.set") >= 2
