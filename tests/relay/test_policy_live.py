"""The RCPT/MAIL/DATA decisions against the real directory and Dovecot: spoofing,
unknown, suspended, over quota, too big, hourly limit; aliases and forwards expand."""

from __future__ import annotations

import smtplib

import ldap3
import pytest

from mailgothai.core.models import Status
from mailgothai.directory.layout import Layout
from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import fetch_all, message, mx, submission, wait_for, wait_for_messages

pytestmark = [pytest.mark.integration, pytest.mark.sql]


def _rcpt(client: smtplib.SMTP, sender: str, rcpt: str, size: int = 0) -> tuple[int, bytes]:
    client.rset()
    params = f" SIZE={size}" if size else ""
    assert client.docmd("MAIL", f"FROM:<{sender}>{params}")[0] == 250
    return client.docmd("RCPT", f"TO:<{rcpt}>")


# ---- spoofing --------------------------------------------------------------------------
def test_an_authenticated_user_cannot_send_as_another_user(relay: Settings, mail_domain: MailDomain) -> None:
    alice, bob = mail_domain.account("alice"), mail_domain.account("bob")
    with submission(relay, alice) as client:
        code, reply = client.docmd("MAIL", f"FROM:<{bob}>")
        assert (code, reply[:5]) == (553, b"5.7.1")
        code, _ = client.docmd("MAIL", "FROM:<ceo@elsewhere.example>")
        assert code == 553
        code, _ = client.docmd("MAIL", "FROM:<>")
        assert code == 553


def test_an_authenticated_user_may_send_as_its_alias_but_not_with_a_forged_from_header(
        relay: Settings, mail_domain: MailDomain) -> None:
    alias = f"director@{mail_domain.name}"
    alice = mail_domain.account("alice2", aliases=alias)
    reader = mail_domain.account("reader")
    with submission(relay, alice) as client:
        assert client.sendmail(alias, [reader], message(alias, reader, "as-alias")) == {}
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail(alice, [reader], message(f"boss@{mail_domain.name}", reader, "forged"))
        assert info.value.smtp_code == 550
    [got] = wait_for_messages(relay, reader)
    assert b"Subject: as-alias" in got


def test_unauthenticated_mail_claiming_a_hosted_sender_is_refused(relay: Settings,
                                                                  mail_domain: MailDomain) -> None:
    victim, reader = mail_domain.account("victim"), mail_domain.account("target")
    with mx(relay) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail(victim, [reader], message(victim, reader, "spoofed"))
    assert info.value.smtp_code == 550 and b"DKIM" in info.value.smtp_error
    assert fetch_all(relay, reader) == []


def test_unauthenticated_mail_from_a_hosted_domain_passes_when_signed_by_it(
        relay: Settings, mail_domain: MailDomain) -> None:
    """E.g. a hosted agency's own on-site server sending through our MX: its mail carries
    the domain's valid signature (made here with the domain's own key)."""
    from mailgothai.dkim.keys import KeyFiles
    from mailgothai.dkim.signer import SigningKey, sign
    from relay.helpers import reload_relay

    key = mail_domain.services.dkim.generate(mail_domain.name)
    reload_relay(relay)
    pair = KeyFiles(relay.dkim_key_dir).load(mail_domain.name, key.selector, "rsa")
    sender, reader = mail_domain.account("onsite"), mail_domain.account("colleague")
    raw = message(sender, reader, "signed-elsewhere")
    signed = sign(raw, [SigningKey(mail_domain.name, key.selector, "rsa", pair.load())]) + raw
    with mx(relay) as client:
        assert client.sendmail(sender, [reader], signed) == {}
    [got] = wait_for_messages(relay, reader)
    assert f"dkim=pass header.d={mail_domain.name}".encode() in got
    assert b"Authentication-Results: " in got and b"spf=temperror" in got


# ---- RCPT decisions --------------------------------------------------------------------
def test_unknown_user_550_at_rcpt(relay: Settings, mail_domain: MailDomain) -> None:
    with mx(relay) as client:
        code, reply = _rcpt(client, "someone@elsewhere.example", f"nobody@{mail_domain.name}")
    assert (code, reply[:5]) == (550, b"5.1.1")


def test_suspended_account_and_suspended_domain_550(relay: Settings, mail_domain: MailDomain) -> None:
    sleeper = mail_domain.account("sleeper")
    mail_domain.services.accounts.set_status(sleeper, Status.DISABLED)
    with mx(relay) as client:
        code, reply = _rcpt(client, "someone@elsewhere.example", sleeper)
        assert (code, reply[:5]) == (550, b"5.2.1")
    awake = mail_domain.account("awake")
    mail_domain.services.domains.set_status(mail_domain.name, Status.DISABLED)
    with mx(relay) as client:
        code, reply = _rcpt(client, "someone@elsewhere.example", awake)
        assert (code, reply[:5]) == (550, b"5.2.1")
    mail_domain.services.domains.set_status(mail_domain.name, Status.ACTIVE)


def test_over_quota_452_at_rcpt_and_nothing_accepted_is_lost(relay: Settings, mail_domain: MailDomain) -> None:
    box = mail_domain.account("full", quota="30K")
    filler = message("a@elsewhere.example", box, "filler", ("y" * 70 + "\r\n") * 140)  # ~10 KB
    accepted = refused = 0
    for _ in range(6):  # no SIZE= declared: the relay checks the room again once it has the data
        with mx(relay) as client:
            assert client.mail("a@elsewhere.example")[0] == 250
            code, reply = client.rcpt(box)
            if code == 250:
                code, reply = client.data(filler)
            if code == 452:
                assert reply[:5] == b"4.2.2"
                refused += 1
            else:
                assert code == 250
                accepted += 1
    assert accepted >= 2 and refused >= 1
    assert len(wait_for_messages(relay, box, accepted)) == accepted  # every 250 was delivered
    # The operator lowers the quota below what the mailbox holds: it is over quota now.
    mail_domain.services.accounts.update(box, quota="10K")
    with mx(relay) as client:
        code, reply = _rcpt(client, "a@elsewhere.example", box)
        assert (code, reply[:5]) == (452, b"4.2.2")
    roomy = mail_domain.account("roomy", quota="1M")
    with mx(relay) as client:
        assert _rcpt(client, "a@elsewhere.example", roomy, size=2_000_000)[0] == 452  # SIZE= that cannot fit
        assert _rcpt(client, "a@elsewhere.example", roomy, size=10_000)[0] == 250


def test_message_over_the_domain_maximum_552(relay: Settings, mail_domain: MailDomain) -> None:
    mail_domain.services.domains.set(mail_domain.name, max_message_size="20K")
    reader = mail_domain.account("small")
    big = message("a@elsewhere.example", reader, "big", ("z" * 70 + "\r\n") * 400)
    with mx(relay) as client:
        code, reply = _rcpt(client, "a@elsewhere.example", reader, size=len(big))
        assert (code, reply[:5]) == (552, b"5.3.4")  # declared SIZE=: refused at RCPT
    with mx(relay) as client:  # undeclared: refused after DATA
        assert client.mail("a@elsewhere.example")[0] == 250
        assert client.rcpt(reader)[0] == 250
        code, reply = client.data(big)
        assert (code, reply[:5]) == (552, b"5.3.4")
    assert fetch_all(relay, reader) == []


def test_hourly_recipient_limit_452(relay: Settings, mail_domain: MailDomain) -> None:
    mail_domain.services.domains.set(mail_domain.name, hourly_send_limit=3)
    sender = mail_domain.account("chatty")
    readers = [mail_domain.account(f"r{n}") for n in range(4)]
    with submission(relay, sender) as client:
        client.docmd("MAIL", f"FROM:<{sender}>")
        codes = [client.docmd("RCPT", f"TO:<{r}>")[0] for r in readers]
    assert codes == [250, 250, 250, 452]


# ---- expansion -----------------------------------------------------------------------------
def test_aliases_and_forwards_expand_to_their_targets(relay: Settings, mail_domain: MailDomain,
                                                      remote: FakeRemote) -> None:
    one, two = mail_domain.account("one"), mail_domain.account("two")
    outside = f"copy-{mail_domain.name}@remote.example"
    forwarding = mail_domain.account("fwd", forwards=outside, aliases=f"fwd-alias@{mail_domain.name}")
    mail_domain.services.aliases.add(f"team@{mail_domain.name}", (one, two, f"fwd-alias@{mail_domain.name}"))
    with mx(relay) as client:
        assert client.sendmail("boss@elsewhere.example", [f"team@{mail_domain.name}"],
                               message("boss@elsewhere.example", f"team@{mail_domain.name}", "to-team")) == {}
    for reader in (one, two, forwarding):
        [got] = wait_for_messages(relay, reader)
        assert b"Subject: to-team" in got
    [copy] = wait_for(lambda: remote.messages_for(outside), "the forwarded copy at the remote")
    assert b"Subject: to-team" in copy


def test_an_accounts_alias_address_delivers_to_the_account(relay: Settings, mail_domain: MailDomain) -> None:
    owner = mail_domain.account("owner", aliases=f"info@{mail_domain.name}")
    with mx(relay) as client:
        assert client.sendmail("x@elsewhere.example", [f"INFO@{mail_domain.name.upper()}"],
                               message("x@elsewhere.example", f"info@{mail_domain.name}", "via-alias")) == {}
    [got] = wait_for_messages(relay, owner)
    assert b"Subject: via-alias" in got and f"Delivered-To: {owner}".encode() in got


def test_recipients_of_a_transaction_that_sent_nothing_go_back_to_the_hourly_count(
        relay: Settings, mail_domain: MailDomain) -> None:
    """RSET, a refused DATA or a dropped connection: the recipients counted at RCPT are
    given back; only a message that was accepted spends the limit."""
    mail_domain.services.domains.set(mail_domain.name, hourly_send_limit=3)
    sender = mail_domain.account("giveup")
    readers = [mail_domain.account(f"g{n}") for n in range(3)]
    with submission(relay, sender) as client:
        assert client.docmd("MAIL", f"FROM:<{sender}>")[0] == 250
        assert [client.docmd("RCPT", f"TO:<{r}>")[0] for r in readers] == [250, 250, 250]
        assert client.docmd("RSET")[0] == 250  # given up
        assert client.docmd("MAIL", f"FROM:<{sender}>")[0] == 250
        assert [client.docmd("RCPT", f"TO:<{r}>")[0] for r in readers] == [250, 250, 250]
        forged = message(f"someone@{mail_domain.name}", readers[0], "forged")  # From: not the sender's
        code, reply = client.data(forged)
        assert code == 550, reply  # refused at DATA: nothing sent
    dropped = submission(relay, sender)
    assert dropped.docmd("MAIL", f"FROM:<{sender}>")[0] == 250
    assert [dropped.docmd("RCPT", f"TO:<{r}>")[0] for r in readers] == [250, 250, 250]
    dropped.close()  # the connection goes away in the middle of the transaction (no QUIT)

    def all_three_accepted() -> bool:
        with submission(relay, sender) as client:
            client.docmd("MAIL", f"FROM:<{sender}>")
            codes = [client.docmd("RCPT", f"TO:<{r}>")[0] for r in readers]
            if codes != [250, 250, 250]:
                client.docmd("RSET")
                return False
            assert client.data(message(sender, readers[0], "kept"))[0] == 250
            return True

    wait_for(all_three_accepted, "the dropped connection's recipients back in the hourly count")
    with submission(relay, sender) as client:  # the message sent spends the limit
        client.docmd("MAIL", f"FROM:<{sender}>")
        assert client.docmd("RCPT", f"TO:<{readers[0]}>")[0] == 452
    for reader in readers:
        assert [m for m in wait_for_messages(relay, reader) if b"Subject: kept" in m]


def test_an_hourly_limit_past_its_maximum_in_the_directory_still_lets_users_send(
        relay: Settings, mail_domain: MailDomain) -> None:
    """A domain given a huge limit before the maximum existed (or by slapd directly): the
    relay takes it as the maximum; before, 10**30 overflowed the counters' SQL at every
    authenticated RCPT."""
    sender, reader = mail_domain.account("big-limit"), mail_domain.account("big-limit-reader")
    root = ldap3.Connection(ldap3.Server(relay.host, port=relay.ldap_port, get_info=ldap3.NONE),
                            user=relay.ldap_manager_dn, password=str(relay.ldap_manager_password), auto_bind=True)
    root.modify(Layout(relay.ldap_base).domain(mail_domain.name),
                {"mgtHourlySendLimit": [(ldap3.MODIFY_REPLACE, [str(10**30)])]})
    assert root.result["result"] == 0, root.result
    root.unbind()
    with submission(relay, sender) as client:
        assert _rcpt(client, sender, reader)[0] == 250
