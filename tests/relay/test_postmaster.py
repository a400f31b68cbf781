"""postmaster@ of every hosted domain and the bare <postmaster> (RFC 5321 4.5.1) accept
mail on the MX port: a domain's own postmaster@ account or alias if it has one, else the
operator's address (`relay_postmaster`), and while none is set the queue keeps the mail
until one is; nothing else changes for strangers."""

from __future__ import annotations

import json
import smtplib
import uuid

import pytest

from mailgothai.errors import StackError
from mailgothai.relay.wiring import postmaster_address
from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain, relay_with
from relay.helpers import message, mx, wait_for, wait_for_messages
from tests.conftest import Cli

pytestmark = pytest.mark.integration
STRANGER = "someone@elsewhere.example"


def _rcpt(client: smtplib.SMTP, rcpt: str) -> tuple[int, bytes]:
    client.rset()
    assert client.docmd("MAIL", f"FROM:<{STRANGER}>")[0] == 250
    return client.docmd("RCPT", f"TO:<{rcpt}>")


def _other_domain(mail_domain: MailDomain) -> MailDomain:
    other = MailDomain(f"p{uuid.uuid4().hex[:10]}.go.th", mail_domain.services)
    other.services.domains.add(other.name, description="another agency")
    return other


def test_a_domain_routes_its_postmaster_with_an_alias_without_any_setting(
        relay: Settings, mail_domain: MailDomain) -> None:
    staff = mail_domain.account("it-staff")
    mail_domain.services.aliases.add(f"postmaster@{mail_domain.name}", (staff,))
    with mx(relay) as client:
        assert client.sendmail(STRANGER, [f"PostMaster@{mail_domain.name.upper()}"],
                               message(STRANGER, f"postmaster@{mail_domain.name}", "to-alias")) == {}
    [got] = wait_for_messages(relay, staff)
    assert b"Subject: to-alias" in got


def test_postmaster_of_every_domain_and_the_bare_postmaster_reach_the_operator(
        relay: Settings, mail_domain: MailDomain) -> None:
    noc = mail_domain.account("noc")
    agency = _other_domain(mail_domain)
    own = _other_domain(mail_domain)
    own_staff = own.account("helpdesk")
    own.services.aliases.add(f"postmaster@{own.name}", (own_staff,))
    with relay_with(relay, relay_postmaster=noc) as settings:
        with mx(settings) as client:
            assert _rcpt(client, f"nobody@{agency.name}")[0] == 550  # unknown users stay unknown
            code, reply = _rcpt(client, f"nobody@{agency.name}")
            assert (code, reply[:5]) == (550, b"5.1.1")
            assert _rcpt(client, "postmaster@elsewhere.example")[0] == 554  # never a relay
            for rcpt, subject in [(f"postmaster@{agency.name}", "domain-postmaster"),
                                  (f"POSTMASTER@{agency.name}", "upper-postmaster"),
                                  ("postmaster", "bare-postmaster"), ("PostMaster", "bare-mixed-case"),
                                  (f"postmaster@{own.name}", "own-postmaster")]:
                client.rset()
                assert client.docmd("MAIL", f"FROM:<{STRANGER}>")[0] == 250
                code, reply = client.docmd("RCPT", f"TO:<{rcpt}>")
                assert code == 250, (rcpt, reply)
                assert client.data(message(STRANGER, rcpt, subject))[0] == 250
        got = wait_for_messages(settings, noc, 4)
        subjects = sorted(s for s in (b"domain-postmaster", b"upper-postmaster", b"bare-postmaster",
                                      b"bare-mixed-case") if any(b"Subject: " + s in m for m in got))
        assert len(subjects) == 4 and len(got) == 4
        [mine] = wait_for_messages(settings, own_staff)
        assert b"Subject: own-postmaster" in mine


def test_an_outside_postmaster_address_is_the_only_outside_target(
        relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    outside = f"noc-{uuid.uuid4().hex[:8]}@operator.example"
    with relay_with(relay, relay_postmaster=outside) as settings:
        with mx(settings) as client:
            assert client.sendmail(STRANGER, [f"postmaster@{mail_domain.name}"],
                                   message(STRANGER, f"postmaster@{mail_domain.name}", "to-outside")) == {}
            code, _ = _rcpt(client, outside)  # the target itself is not open to strangers
            assert code == 554
        [copy] = wait_for(lambda: remote.messages_for(outside), "the postmaster copy at the remote")
        assert b"Subject: to-outside" in copy



def test_with_no_postmaster_address_set_the_mail_waits_in_the_queue_and_goes_on_once_one_is(
        relay: Settings, mail_domain: MailDomain) -> None:
    assert not relay.relay_postmaster  # the default
    agency = _other_domain(mail_domain)
    with mx(relay) as client:
        for rcpt, subject in [(f"postmaster@{agency.name}", "waits-domain"), ("postmaster", "waits-bare")]:
            client.rset()
            assert client.docmd("MAIL", f"FROM:<{STRANGER}>")[0] == 250
            assert client.docmd("RCPT", f"TO:<{rcpt}>")[0] == 250, rcpt
            assert client.data(message(STRANGER, rcpt, subject))[0] == 250
    cli = Cli(relay)

    def queued() -> list[dict[str, object]]:
        out = cli("queue", "list", "--json")
        assert out.returncode == 0, out.stderr
        return [r for r in json.loads(out.stdout) if r["sender"] == STRANGER]

    def waiting() -> list[dict[str, object]] | None:
        rows = [r for r in queued() if r["attempts"]]
        return rows if len(rows) == 2 else None

    rows = wait_for(waiting, "both messages to wait in the queue after an attempt")
    for row in rows:
        assert row["pending"] == ["postmaster"]
        assert "no postmaster address is set" in str(row["last_error"])
    noc = mail_domain.account("noc-later")
    with relay_with(relay, relay_postmaster=noc) as settings:
        assert cli("queue", "retry", "--all").returncode == 0
        got = wait_for_messages(settings, noc, 2)
    assert sorted(s for s in (b"waits-domain", b"waits-bare") if any(b"Subject: " + s in m for m in got)) == [
        b"waits-bare", b"waits-domain"]
    wait_for(lambda: not queued(), "the queue to be rid of them")


def test_mail_still_waiting_for_a_postmaster_address_at_the_end_of_the_queue_lifetime_is_dropped_not_bounced(
        relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    """It came from outside without authentication: its MAIL FROM may be forged, and a DSN
    to it would be backscatter. The failure is logged (bounce-dropped), nothing is sent."""
    from mailgothai.stack import manager

    sender = f"s-{uuid.uuid4().hex[:8]}@elsewhere.example"

    def dropped() -> bool:
        return any('"event": "bounce-dropped"' in line and sender in line and "postmaster" in line
                   for line in manager.RELAY.log_file(relay).read_text(errors="replace").splitlines())

    with relay_with(relay, relay_queue_lifetime=1) as settings:
        with mx(settings) as client:
            assert client.sendmail(sender, [f"postmaster@{mail_domain.name}"],
                                   message(sender, f"postmaster@{mail_domain.name}", "never-read")) == {}
        Cli(settings)("queue", "retry", "--all")
        wait_for(dropped, "the expired message's failure logged as bounce-dropped")
    assert remote.messages_for(sender) == []


@pytest.mark.parametrize("value", ["not-an-address", "noc@", '"quoted"@operator.go.th'])
def test_a_bad_operator_postmaster_address_stops_the_relay_naming_the_setting(value: str) -> None:
    with pytest.raises(StackError, match="relay_postmaster"):
        postmaster_address(Settings(relay_postmaster=value))
    assert postmaster_address(Settings(relay_postmaster=" NOC@Operator.GO.TH ")) == "noc@operator.go.th"
    assert postmaster_address(Settings()) == ""
