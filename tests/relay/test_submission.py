"""Submission with AUTH over STARTTLS (and implicit TLS) delivers into a local mailbox,
fetched over IMAP, signed with the domain's DKIM keys; independent verifiers agree."""

from __future__ import annotations

import base64
import smtplib
import uuid
from pathlib import Path

import pytest

from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import (
    PASSWORD,
    dkimpy_verify,
    dns_records,
    fetch_all,
    message,
    mx,
    perl_verify,
    plain_submission,
    reload_relay,
    smtps,
    submission,
    swaks,
    tls_client_context,
    wait_for,
    wait_for_messages,
)

pytestmark = [pytest.mark.integration, pytest.mark.sql]


@pytest.fixture
def signed_domain(mail_domain: MailDomain, relay: Settings) -> MailDomain:
    mail_domain.services.dkim.generate(mail_domain.name, "rsa")
    mail_domain.services.dkim.generate(mail_domain.name, "ed25519")
    reload_relay(relay)
    return mail_domain


def test_starttls_auth_delivers_signed_mail_that_mail_dkim_and_dkimpy_verify(
        relay: Settings, signed_domain: MailDomain, tmp_path: Path) -> None:
    sender, reader = signed_domain.account("somchai"), signed_domain.account("malee")
    body = "สวัสดีครับ\r\n.leading dot line\r\n" + ("x" * 76 + "\r\n") * 130
    raw = message(sender, reader, "signed", body,
                  extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 8bit\r\n")
    with submission(relay, sender) as client:
        assert client.sendmail(sender, [reader], raw) == {}

    [got] = wait_for_messages(relay, reader)
    assert got.endswith(raw.split(b"\r\n\r\n", 1)[1])  # the body arrives byte for byte
    records = dns_records(signed_domain.services, signed_domain.name)
    perl = perl_verify(got, records, tmp_path)
    assert perl.overall == "pass", perl.lines
    rsa_lines = [line for line in perl.lines if " rsa-sha256 " in line]
    assert rsa_lines and rsa_lines[0].endswith(" pass")
    # Debian 12's Mail::DKIM cannot check ed25519; dkimpy checks both signatures.
    assert any("ed25519" in line and "invalid" in line for line in perl.lines)
    headers = got.split(b"\r\n\r\n", 1)[0]
    algorithms = [h for h in headers.split(b"DKIM-Signature:")[1:]]
    assert len(algorithms) == 2
    for index in range(2):
        assert dkimpy_verify(got, records, index)


def test_a_tampered_body_fails_verification(relay: Settings, signed_domain: MailDomain, tmp_path: Path) -> None:
    sender, reader = signed_domain.account("a"), signed_domain.account("b")
    with submission(relay, sender) as client:
        client.sendmail(sender, [reader], message(sender, reader, "tamper", "original text\r\n"))
    [got] = wait_for_messages(relay, reader)
    tampered = got.replace(b"original text", b"altered text")
    perl = perl_verify(tampered, dns_records(signed_domain.services, signed_domain.name), tmp_path)
    assert perl.overall == "fail"
    assert any("body has been altered" in line for line in perl.lines)


def test_implicit_tls_port_and_swaks_auth_login(relay: Settings, mail_domain: MailDomain) -> None:
    sender, reader = mail_domain.account("sender"), mail_domain.account("reader")
    with smtps(relay, sender) as client:
        client.sendmail(sender, [reader], message(sender, reader, "over-smtps"))
    result = swaks("--server", f"{relay.host}:{relay.submission_port}", "--tls", "--auth", "LOGIN",
                   "--auth-user", sender, "--auth-password", PASSWORD, "--from", sender, "--to", reader,
                   "--header", "Subject: via-swaks")
    assert result.returncode == 0, result.stdout + result.stderr
    got = wait_for_messages(relay, reader, 2)
    subjects = sorted(m.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0] for m in got)
    assert subjects == [b"over-smtps", b"via-swaks"]


def test_auth_is_not_offered_on_the_mx_port(relay: Settings, mail_domain: MailDomain) -> None:
    user = mail_domain.account("u")
    with mx(relay) as client:
        assert not client.has_extn("auth")
        token = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        code, text = client.docmd("AUTH", f"PLAIN {token}")
        assert (code, text[:5]) == (503, b"5.5.1")


def test_by_default_auth_needs_tls_even_from_loopback(relay: Settings, mail_domain: MailDomain) -> None:
    """The stack runs with the default `relay_dev_mode` (0): a client on the same machine
    — or anything a local proxy forwards — gets no AUTH without TLS; after STARTTLS it does."""
    user = mail_domain.account("loopback")
    with plain_submission(relay) as client:
        assert not client.has_extn("auth")  # not even offered
        token = base64.b64encode(f"\0{user}\0{PASSWORD}".encode()).decode()
        code, text = client.docmd("AUTH", f"PLAIN {token}")
        assert (code, text[:6]) == (538, b"5.7.11")
        assert client.starttls(context=tls_client_context())[0] == 220
        client.ehlo("client.test")
        assert client.has_extn("auth")
        assert client.login(user, PASSWORD)[0] == 235
        assert client.sendmail(user, [user], message(user, user, "after starttls")) == {}
    assert [m for m in wait_for_messages(relay, user) if b"Subject: after starttls" in m]
    assert relay.relay_dev_mode == Settings().relay_dev_mode == 0  # what the stack ran with: the default


def test_auth_needs_tls_from_a_non_loopback_client_in_production_mode() -> None:
    """Without TLS, AUTH is refused unless dev mode and a loopback client (unit level:
    every client of the test stack is on loopback)."""
    from types import SimpleNamespace

    from mailgothai.relay.handler import RelayHandler

    def handler_for(dev_mode: int, listener: str) -> RelayHandler:
        return RelayHandler(SimpleNamespace(settings=SimpleNamespace(relay_dev_mode=dev_mode)), listener)  # type: ignore[arg-type]

    handler = handler_for(dev_mode=1, listener="submission")
    plain_remote = SimpleNamespace(ssl=None, peer=("192.0.2.10", 4000))
    plain_local = SimpleNamespace(ssl=None, peer=("127.0.0.1", 4000))
    tls_remote = SimpleNamespace(ssl={"cipher": "x"}, peer=("192.0.2.10", 4000))
    assert str(handler.auth_allowed(None, plain_remote)).startswith("538 5.7.11")
    assert handler.auth_allowed(None, plain_local) is None
    assert handler.auth_allowed(None, tls_remote) is None
    production = handler_for(dev_mode=0, listener="submission")
    assert str(production.auth_allowed(None, plain_local)).startswith("538 5.7.11")
    assert str(handler_for(dev_mode=1, listener="mx").auth_allowed(None, tls_remote)).startswith("503 5.5.1")


def _auth_plain(client: smtplib.SMTP, user: str, password: str) -> int:
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    return client.docmd("AUTH", f"PLAIN {token}")[0]


def test_wrong_passwords_refuse_the_source_even_for_the_right_password(
        relay: Settings, mail_domain: MailDomain) -> None:
    """After login_free_failures failures of one account from one source, that source is
    refused (the rule: tests/unit/test_login_budget.py; shared with IMAP and the web:
    tests/integration/test_login_budget.py)."""
    user = mail_domain.account("guessme")
    codes = []
    for _ in range(relay.login_free_failures + 1):
        with submission(relay) as client:
            codes.append(_auth_plain(client, user, "wrong-password"))
    assert codes == [535] * relay.login_free_failures + [454]  # then refused without a check, and says so
    with submission(relay) as client:
        assert _auth_plain(client, user, PASSWORD) == 454  # refused: the right password waits too
    other = mail_domain.account("bystander")
    with submission(relay) as client:
        assert _auth_plain(client, other, PASSWORD) == 235  # one account's lockout is not everyone's


def test_a_user_logging_in_for_every_message_is_served_from_the_auth_cache(
        relay: Settings, mail_domain: MailDomain) -> None:
    sender, reader = mail_domain.account("often"), mail_domain.account("inbox")
    for n in range(5):
        with submission(relay, sender) as client:
            client.sendmail(sender, [reader], message(sender, reader, f"n{n}"))
    assert len(wait_for_messages(relay, reader, 5)) == 5
    # The cached login does not outlive a password change's effect on a wrong password:
    with submission(relay) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(sender, PASSWORD + "x")
    assert fetch_all(relay, reader)


def test_malformed_auth_values_get_the_reply_tables_answers(relay: Settings) -> None:
    from mailgothai.core import policy as p

    with submission(relay) as client:
        for command, kind in [("AUTH PLAIN !!!not-base64", p.R.AUTH_BAD_BASE64),
                              ("AUTH LOGIN !!!not-base64", p.R.AUTH_BAD_BASE64),
                              (f"AUTH PLAIN {base64.b64encode(b'no-separators').decode()}", p.R.AUTH_BAD_PLAIN)]:
            expected = p.reply(kind)
            code, text = client.docmd(command)
            assert (code, text.decode()) == (expected.code, f"{expected.status} {expected.text}"), command


def test_a_bare_cr_is_a_line_end_before_any_check_so_no_hidden_from_reaches_the_remote(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote, tmp_path: Path) -> None:
    """Audit: the relay read headers split on CRLF only, while the outbound client
    (aiosmtplib) makes every lone CR a line end: a From: hidden behind a bare CR inside
    X-Mailer was not checked, yet arrived at the remote as the message's From:. Every
    lone CR and lone LF is now CRLF from the moment DATA is accepted."""
    alice = signed_domain.account("cralice")
    director = signed_domain.account("crdirector")
    target = f"cr-{uuid.uuid4().hex[:8]}@remote.example"
    hidden = (f"X-Mailer: x\rFrom: Director <{director}>\rTo: {target}\rSubject: Urgent\r\r"
              f"X-Pad: y\r\nFrom: {alice}\r\nTo: {target}\r\nSubject: s\r\n\r\nbody\r\n").encode()
    lone_lf = (f"X-Mailer: x\nFrom: Director <{director}>\r\nFrom: {alice}\r\nTo: {target}\r\n"
               f"Subject: s\r\n\r\nbody\r\n").encode()
    with submission(relay, alice) as client:
        for data in (hidden, lone_lf):
            with pytest.raises(smtplib.SMTPDataError) as info:
                client.sendmail(alice, [target], data)
            assert info.value.smtp_code == 550 and director.encode() in info.value.smtp_error
        # bare CRs in the body: the message signed is the message delivered
        body = f"From: {alice}\r\nTo: {target}\r\nSubject: body with bare CRs\r\n\r\none\rtwo\nthree\r\n".encode()
        assert client.sendmail(alice, [target], body) == {}
    [got] = wait_for(lambda: remote.messages_for(target), "the message at the remote")
    assert b"Subject: body with bare CRs" in got and director.encode() not in got
    assert got.endswith(b"\r\n\r\none\r\ntwo\r\nthree\r\n")
    perl = perl_verify(got, dns_records(signed_domain.services, signed_domain.name), tmp_path)
    assert perl.overall == "pass", perl.lines
