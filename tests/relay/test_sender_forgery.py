"""Mail that lies about its sender, against the real relay and Dovecot: unauthenticated
mail whose envelope, From: or Sender: claims a hosted domain without that domain's
signature is refused in every header form; forged Authentication-Results headers are
removed; at submission Sender: is held to the same rule as From:."""

from __future__ import annotations

import smtplib
import uuid

import pytest

from mailgothai.settings import Settings
from relay.conftest import MailDomain
from relay.helpers import fetch_all, mx, reload_relay, submission, wait_for_messages

pytestmark = [pytest.mark.integration, pytest.mark.sql]
OUTSIDE = "news@elsewhere.example"


def raw_message(headers: str, to: str, subject: str) -> bytes:
    """A message whose sender headers are given as they go on the wire."""
    return (f"{headers}\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@test>\r\n"
            f"Date: Wed, 25 Nov 2026 08:00:00 +0000\r\n\r\nhello\r\n").encode()


def q_encoded(text: str) -> str:
    """`text` as one RFC 2047 encoded word, every character hex-escaped (so '@' is '=40')."""
    return "=?utf-8?q?" + "".join(f"={b:02X}" for b in text.encode("utf-8")) + "?="


def forged_forms(victim: str) -> list[tuple[str, str, str]]:
    """(name, envelope sender, sender headers): each claims the victim's hosted domain."""
    local, domain = victim.split("@")
    return [
        ("display name", OUTSIDE, f"From: Somchai <{victim}>"),
        ("bare address", OUTSIDE, f"From: {victim}"),
        ("comment", OUTSIDE, f"From: {victim} (Somchai)"),
        ("several addresses", OUTSIDE, f"From: {OUTSIDE}, {victim}"),
        ("group", OUTSIDE, f"From: Team: {OUTSIDE}, {victim};"),
        ("encoded display name", OUTSIDE, f"From: {q_encoded('สมชาย ใจดี')} <{victim}>"),
        ("encoded word hiding an address", OUTSIDE, f"From: {q_encoded(victim)} <{OUTSIDE}>"),
        ("encoded word that is the whole address", OUTSIDE, f"From: {q_encoded(victim)}"),
        ("quoted display name showing an address", OUTSIDE, f'From: "{victim}" <{OUTSIDE}>'),
        ("comment showing an address", OUTSIDE, f"From: {OUTSIDE} ({victim})"),
        ("folded line", OUTSIDE, f"From: Somchai\r\n\t<{victim}>"),
        ("upper case", OUTSIDE, f"From: {local.upper()}@{domain.upper()}"),
        ("obsolete spacing", OUTSIDE, f"From: {local} @ {domain}"),
        ("source route", OUTSIDE, f"From: <@relay.elsewhere.example:{victim}>"),
        ("two From: fields", OUTSIDE, f"From: {OUTSIDE}\r\nFrom: {victim}"),
        ("Sender:", OUTSIDE, f"From: {OUTSIDE}\r\nSender: Somchai <{victim}>"),
        ("null envelope sender", "", f"From: Somchai <{victim}>"),
        ("envelope only", victim, f"From: {OUTSIDE}"),
        ("unreadable From:", OUTSIDE, f"From: {OUTSIDE} <{victim}>"),
        ("unreadable address", OUTSIDE, f"From: <{victim}"),
    ]


def test_unauthenticated_mail_claiming_a_hosted_domain_is_refused_in_every_header_form(
        relay: Settings, mail_domain: MailDomain) -> None:
    victim, reader = mail_domain.account("somchai.s"), mail_domain.account("reader")
    accepted = []
    for name, envelope, headers in forged_forms(victim):
        with mx(relay) as client:
            try:
                client.sendmail(envelope, [reader], raw_message(headers, reader, f"forged {name}"))
            except smtplib.SMTPDataError as exc:
                assert exc.smtp_code == 550 and exc.smtp_error[:5] == b"5.7.1", (name, exc)
                text = exc.smtp_error.decode()
                assert ("From:" in text or "Sender:" in text or "DKIM" in text), (name, text)
                continue
            accepted.append(name)
    assert accepted == [], f"accepted forged forms: {accepted}"
    assert fetch_all(relay, reader) == []


def test_the_refusal_names_the_header_and_the_domain(relay: Settings, mail_domain: MailDomain) -> None:
    victim, reader = mail_domain.account("named"), mail_domain.account("reader2")
    with mx(relay) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            forged = raw_message(f"From: {OUTSIDE}\r\nSender: <{victim}>", reader, "x")
            client.sendmail(OUTSIDE, [reader], forged)
    text = info.value.smtp_error.decode()
    assert "Sender:" in text and mail_domain.name in text and "DKIM" in text
    with mx(relay) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail(OUTSIDE, [reader], raw_message(f"From: <{victim}", reader, "x"))
    assert "From:" in info.value.smtp_error.decode()


def test_outside_senders_in_any_header_form_are_still_accepted(relay: Settings,
                                                               mail_domain: MailDomain) -> None:
    reader = mail_domain.account("inbox")
    legit = [
        (OUTSIDE, f"From: {q_encoded('Jörg Müller')} <{OUTSIDE}>"),
        (OUTSIDE, f"From: Team: {OUTSIDE}, other@elsewhere.example;"),
        (OUTSIDE, f"From: {OUTSIDE} (News)\r\nSender: list-bounces@lists.elsewhere.example"),
        ("", "From: Mail Delivery System <MAILER-DAEMON@elsewhere.example>"),  # a bounce from outside
    ]
    for envelope, headers in legit:
        with mx(relay) as client:
            assert client.sendmail(envelope, [reader], raw_message(headers, reader, "legit")) == {}
    assert len(wait_for_messages(relay, reader, len(legit))) == len(legit)


def _sign(relay: Settings, domain: MailDomain, raw: bytes) -> bytes:
    from mailgothai.dkim.keys import KeyFiles
    from mailgothai.dkim.signer import SigningKey, sign

    key = domain.services.dkim.generate(domain.name)
    reload_relay(relay)
    pair = KeyFiles(relay.dkim_key_dir).load(domain.name, key.selector, "rsa")
    return sign(raw, [SigningKey(domain.name, key.selector, "rsa", pair.load())]) + raw


def test_a_hosted_sender_signed_by_its_own_domain_passes_and_by_another_does_not(
        relay: Settings, mail_domain: MailDomain) -> None:
    victim, reader = mail_domain.account("onsite"), mail_domain.account("colleague")
    headers = f"From: {q_encoded('ฝ่ายไอที')} <{victim}>\r\nSender: {victim}"
    signed = _sign(relay, mail_domain, raw_message(headers, reader, "signed by its domain"))
    with mx(relay) as client:
        assert client.sendmail(OUTSIDE, [reader], signed) == {}
    [got] = wait_for_messages(relay, reader)
    assert b"Subject: signed by its domain" in got

    other = MailDomain(f"o{uuid.uuid4().hex[:10]}.go.th", mail_domain.services)
    other.services.domains.add(other.name, description="another agency")
    by_other = _sign(relay, other, raw_message(f"From: <{victim}>", reader, "signed by another"))
    with mx(relay) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail(OUTSIDE, [reader], by_other)
    assert info.value.smtp_code == 550 and mail_domain.name.encode() in info.value.smtp_error


# ---- Authentication-Results (RFC 8601 section 5) --------------------------------------
def test_forged_authentication_results_of_this_relay_are_removed(relay: Settings,
                                                                 mail_domain: MailDomain) -> None:
    own = relay.relay_hostname
    reader = mail_domain.account("ar")
    forged = [
        f"Authentication-Results: {own}; dkim=pass header.d={mail_domain.name}",
        f"Authentication-Results: {own.upper()};\r\n\tspf=pass smtp.mailfrom={mail_domain.name}",
        f"authentication-results: (forged) {own} (with a comment); dmarc=pass",
        f'Authentication-Results: "{own}"; dkim=pass',
        f"Authentication-Results:\r\n {own} 1; auth=pass",
    ]
    foreign = "Authentication-Results: mx.elsewhere.example; spf=pass smtp.mailfrom=elsewhere.example"
    headers = "\r\n".join([f"From: {OUTSIDE}", *forged, foreign])
    with mx(relay) as client:
        assert client.sendmail(OUTSIDE, [reader], raw_message(headers, reader, "forged results")) == {}
    [got] = wait_for_messages(relay, reader)
    head = got.split(b"\r\n\r\n", 1)[0].decode()
    results = [line for line in head.replace("\r\n\t", " ").replace("\r\n ", " ").split("\r\n")
               if line.lower().startswith("authentication-results:")]
    assert len(results) == 2, results
    assert results[0].startswith(f"Authentication-Results: {own};")  # the relay's own, on top
    assert "dkim=none" in results[0]
    assert results[1] == foreign  # another authserv-id is kept as it came
    assert own.lower() != "localhost", "the authserv-id is the configured host name, not localhost"


def test_forged_authentication_results_are_removed_at_submission_too(relay: Settings,
                                                                     mail_domain: MailDomain) -> None:
    sender, reader = mail_domain.account("subar"), mail_domain.account("subreader")
    raw = raw_message(f"From: {sender}\r\nAuthentication-Results: {relay.relay_hostname}; dkim=pass",
                      reader, "submitted results")
    with submission(relay, sender) as client:
        assert client.sendmail(sender, [reader], raw) == {}
    [got] = wait_for_messages(relay, reader)
    assert b"Authentication-Results" not in got.split(b"\r\n\r\n", 1)[0]


# ---- Sender: at submission ------------------------------------------------------------
def test_at_submission_sender_must_be_the_users_own_like_from(relay: Settings,
                                                              mail_domain: MailDomain) -> None:
    alias = f"office@{mail_domain.name}"
    alice = mail_domain.account("alice", aliases=alias)
    bob, reader = mail_domain.account("bob"), mail_domain.account("sreader")
    refused = [
        f"From: {alice}\r\nSender: {bob}",
        f"From: {alice}\r\nSender: Bob <{bob.upper()}>",
        f"From: {alice}\r\nSender: ceo@elsewhere.example",
        f"From: {alice}\r\nSender: <{bob}",
    ]
    with submission(relay, alice) as client:
        for headers in refused:
            with pytest.raises(smtplib.SMTPDataError) as info:
                client.sendmail(alice, [reader], raw_message(headers, reader, "sender forged"))
            assert info.value.smtp_code == 550 and b"Sender:" in info.value.smtp_error, headers
        assert client.sendmail(alice, [reader], raw_message(f"From: {alias}\r\nSender: {alice}", reader,
                                                            "sender own")) == {}
    [got] = wait_for_messages(relay, reader)
    assert b"Subject: sender own" in got


def test_at_submission_a_display_name_may_not_show_another_hosted_domain(relay: Settings,
                                                                        mail_domain: MailDomain) -> None:
    """Audit: `From: "minister@<other hosted domain>" <alice@own>` was accepted and signed:
    submission checked the addresses only, never what a reader sees."""
    other = f"r{uuid.uuid4().hex[:10]}.go.th"
    mail_domain.services.domains.add(other, description="relay test: another agency")
    alice, reader = mail_domain.account("dnalice"), mail_domain.account("dnreader")
    with submission(relay, alice) as client:
        for headers in (f'From: "minister@{other}" <{alice}>',
                        f"From: Minister ({q_encoded('minister@' + other)}) <{alice}>"):
            with pytest.raises(smtplib.SMTPDataError) as info:
                client.sendmail(alice, [reader], raw_message(headers, reader, "minister shown"))
            assert info.value.smtp_code == 550 and other.encode() in info.value.smtp_error, headers
        # an outside address or the user's own domain in the display name is not a claim
        own = f'From: "{alice} (was ceo@elsewhere.example)" <{alice}>'
        assert client.sendmail(alice, [reader], raw_message(own, reader, "own shown")) == {}
    [got] = wait_for_messages(relay, reader)
    assert b"Subject: own shown" in got
