"""Self-service password reset (issue 20) through the real web, relay, slapd and Dovecot:
a mail user sets a recovery address outside the service and confirms it by the link mailed
to it; a reset link goes out through the relay (DKIM-signed for the user's domain) to the
test's "remote" smarthost, works once, and the new password then logs in over IMAP, SMTP
and the web; a used or expired link is refused; a known and an unknown address get the
same page and status, and only the known one gets mail; requests are throttled per
address and per client; the store keeps only the SHA-256 of a token."""

from __future__ import annotations

import email
import email.policy
import hashlib
import imaplib
import smtplib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import httpx
import pytest
from sqlalchemy import select

from mailgothai.core import password_reset as pr
from mailgothai.services.password_reset import (
    LinkRefused,
    PasswordResetService,
    RecoveryService,
    ResetConfig,
    confirm_recovery,
)
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.second_factor import UserSecurity
from mailgothai.services.selfservice import SelfService
from mailgothai.services.usage import UsageRefresher
from mailgothai.settings import Settings
from mailgothai.store.password_resets import ResetTokenRow
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import PASSWORD, dns_records, inbox_subjects, perl_verify, reload_relay, submission, wait_for
from relay.reset_links import PUBLIC_URL, Outbox, confirmed_recovery_and_link, link_in, outside_address
from tests.web.conftest import Client, Live, serve

pytestmark = [pytest.mark.integration, pytest.mark.sql]

NEW_PASSWORD = "Ladprao-Station-77"
PER_ADDRESS, PER_IP = 2, 6


@pytest.fixture(scope="module")
def web(relay: Settings) -> Iterator[Live]:
    settings = relay.replace(web_secret_key="reset-tests-secret", web_public_url=PUBLIC_URL,
                             password_reset_per_address=PER_ADDRESS, password_reset_per_ip=PER_IP)
    yield from serve(settings)


@pytest.fixture
def signed_domain(mail_domain: MailDomain, relay: Settings) -> MailDomain:
    mail_domain.services.dkim.generate(mail_domain.name, "rsa")
    reload_relay(relay)
    return mail_domain


class Person(Client):
    """A browser of its own, from an address of its own (uvicorn believes X-Forwarded-For
    from loopback), so each test's requests count for its own client in the throttle."""

    made: list[Person] = []

    def __init__(self, live: Live, ip: str | None = None) -> None:
        super().__init__(live)
        self.http.headers["X-Forwarded-For"] = ip or f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
        Person.made.append(self)


@pytest.fixture(autouse=True)
def _close_people() -> Iterator[None]:
    yield
    while Person.made:
        Person.made.pop().close()


def set_and_confirm_recovery(web: Live, remote: FakeRemote, user: str) -> str:
    """Through the pages, as the user would: the address, its confirmation link, the button."""
    address = outside_address()
    person = Person(web)
    person.login_user(user, PASSWORD)
    person.get("/me/recovery")
    r = person.post("/me/recovery", {"recovery_address": address, "current_password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/me/recovery?notice=recovery-sent"
    assert "Waiting for confirmation:" in person.get("/me/recovery").text
    [mail] = wait_for(lambda: remote.messages_for(address), "the confirmation mail at the remote")
    token = link_in(mail, "/mail/recovery/confirm")
    stranger = Person(web)  # the link is opened in the mail program's browser: no session
    page = stranger.get(f"/mail/recovery/confirm/{token}")
    assert page.status_code == 200 and "Confirm your recovery address" in page.text
    assert "Confirmed:" not in person.get("/me/recovery").text  # opening the page confirms nothing
    r = stranger.post(f"/mail/recovery/confirm/{token}")
    assert r.status_code == 303 and r.headers["location"] == "/mail/login?notice=recovery-confirmed"
    shown = person.get("/me/recovery").text
    assert "Confirmed:" in shown and address in shown
    assert stranger.post(f"/mail/recovery/confirm/{token}").status_code == 410  # once
    return address


def ask_for_reset(person: Person, address: str) -> httpx.Response:
    person.get("/mail/forgot")
    return person.post("/mail/forgot", {"email": address})


def imap_login(settings: Settings, user: str, password: str) -> bool:
    with imaplib.IMAP4(settings.host, settings.imap_port) as imap:
        try:
            imap.login(user, password)
        except imaplib.IMAP4.error:
            return False
        return True


def smtp_login(settings: Settings, user: str, password: str) -> bool:
    with submission(settings) as client:
        try:
            client.login(user, password)
        except smtplib.SMTPAuthenticationError:
            return False
        return True


def test_a_reset_link_goes_out_signed_works_once_and_the_new_password_works_everywhere(
        web: Live, relay: Settings, signed_domain: MailDomain, remote: FakeRemote, tmp_path: Path) -> None:
    user = signed_domain.account("somchai")
    recovery = set_and_confirm_recovery(web, remote, user)
    # the account itself hears that someone outside can now reset its password
    [notice] = wait_for(lambda: [t for t in inbox_subjects(relay, user, PASSWORD) if "recovery address" in t],
                        "the notice of the new recovery address in the account's INBOX")
    assert "มีที่อยู่กู้คืนรหัสผ่านใหม่" in notice

    person = Person(web)
    assert "/mail/forgot" in person.get("/mail/login").text  # the login page leads to it
    r = ask_for_reset(person, user)
    assert r.status_code == 200 and "Check your mail" in r.text
    [mail] = wait_for(lambda: [m for m in remote.messages_for(recovery) if b"/mail/reset/" in m],
                      "the reset mail at the remote")
    sender = next(s for s, rcpts, data in remote.received if data == mail)
    assert sender in ("", "<>")  # system mail: no bounce comes back
    parsed = email.message_from_bytes(mail, policy=email.policy.default)
    assert parsed["From"] == f"no-reply@{signed_domain.name}" and "Reset your password" in parsed["Subject"]
    assert "ตั้งรหัสผ่านใหม่" in parsed["Subject"]  # Thai and English
    perl = perl_verify(mail, dns_records(signed_domain.services, signed_domain.name), tmp_path)
    assert perl.overall == "pass", perl.lines
    token = link_in(mail, "/mail/reset")

    form = person.get(f"/mail/reset/{token}")
    assert form.status_code == 200 and user in form.text
    weak = person.post(f"/mail/reset/{token}", {"new_password": "password", "new_password_repeat": "password"})
    assert weak.status_code == 400 and "needs an upper-case letter" in weak.text  # the domain's policy
    assert imap_login(relay, user, PASSWORD)  # nothing changed yet
    done = person.post(f"/mail/reset/{token}", {"new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/mail/login?notice=password-reset"

    assert imap_login(relay, user, NEW_PASSWORD) and not imap_login(relay, user, PASSWORD)
    assert smtp_login(relay, user, NEW_PASSWORD) and not smtp_login(relay, user, PASSWORD)
    wait_for(lambda: [t for t in inbox_subjects(relay, user, NEW_PASSWORD) if "Your password was reset" in t],
             "the notice of the reset in the account's INBOX")
    web_login = Person(web).login_user(user, NEW_PASSWORD)
    assert web_login.status_code == 303 and web_login.headers["location"] == "/me"

    again = person.get(f"/mail/reset/{token}")  # used: refused, and it changes nothing
    assert again.status_code == 410 and "This link does not work" in again.text
    assert person.post(f"/mail/reset/{token}", {"new_password": "Other-Pass-word-9",
                                                "new_password_repeat": "Other-Pass-word-9"}).status_code == 410
    assert imap_login(relay, user, NEW_PASSWORD)

    # the store holds the token's SHA-256 and never the token itself
    with web.state.backends.store.session() as session:
        rows = session.scalars(select(ResetTokenRow)).all()
        stored = [(r.token_hash, r.purpose, r.mailbox_id, r.address, str(r.created_at), str(r.expires_at),
                   str(r.used_at)) for r in rows]
    assert any(row[0] == hashlib.sha256(token.encode()).hexdigest() and row[1] == "reset" for row in stored)
    assert not any(token in value for row in stored for value in row)


def test_a_known_and_an_unknown_address_get_the_same_answer_and_only_the_known_gets_mail(
        web: Live, signed_domain: MailDomain, remote: FakeRemote) -> None:
    known = signed_domain.account("malee")
    recovery = set_and_confirm_recovery(web, remote, known)
    without_recovery = signed_domain.account("nodee")
    before = len(remote.received)
    person = Person(web)
    answers = [ask_for_reset(person, address) for address in
               (f"nobody@{signed_domain.name}", "someone@not-hosted.example", without_recovery, known)]
    assert {r.status_code for r in answers} == {200}
    assert len({r.text for r in answers}) == 1  # the same page, byte for byte
    assert len({tuple(sorted((k, v) for k, v in r.headers.items() if k not in ("date", "server-timing")))
                for r in answers}) == 1
    wait_for(lambda: [m for m in remote.messages_for(recovery) if b"/mail/reset/" in m], "the known's reset mail")
    # Only the known address's mail left: nothing for the others went out, and none was sent in
    # their name (the relay takes the web's system mail only for an active account).
    assert [rcpts for _, rcpts, _ in remote.received[before:]] == [[recovery]]
    def sent() -> list[str]:  # written by the web's thread after the relay took the mail
        return [e.object_id for e in signed_domain.services.backends.audit.query(
            action="account.password_reset.sent", domain=signed_domain.name)]

    assert wait_for(sent, "the audit record of the sent mail") == [known]


def test_requests_are_throttled_per_address_and_per_client(web: Live, signed_domain: MailDomain,
                                                           remote: FakeRemote) -> None:
    user = signed_domain.account("wichai")
    recovery = set_and_confirm_recovery(web, remote, user)
    person = Person(web)
    answers = [ask_for_reset(person, user) for _ in range(PER_ADDRESS + 1)]
    assert [r.status_code for r in answers] == [200] * (PER_ADDRESS + 1)
    assert len({r.text for r in answers}) == 1  # the address over its limit answers the same
    wait_for(lambda: len([m for m in remote.messages_for(recovery) if b"/mail/reset/" in m]) >= PER_ADDRESS,
             "the first reset mails")
    another = ask_for_reset(Person(web), user)  # from elsewhere: the address's own limit holds
    assert another.status_code == 200
    # the requests over the limit were answered before their background work; a fresh link
    # sent now (another address) arrives after anything they could have sent
    other = signed_domain.account("kanya")
    other_recovery = set_and_confirm_recovery(web, remote, other)
    ask_for_reset(Person(web), other)
    wait_for(lambda: [m for m in remote.messages_for(other_recovery) if b"/mail/reset/" in m], "the other's mail")
    assert len([m for m in remote.messages_for(recovery) if b"/mail/reset/" in m]) == PER_ADDRESS

    client = Person(web)  # one client asking for many addresses (known or not) is refused after PER_IP
    codes = [ask_for_reset(client, f"guess{n}@{signed_domain.name}").status_code for n in range(PER_IP)]
    assert codes == [200] * PER_IP
    refused = ask_for_reset(client, user)
    assert refused.status_code == 429 and "Too many requests" in refused.text
    assert ask_for_reset(Person(web), f"guess0@{signed_domain.name}").status_code == 200  # others still may


def test_a_recovery_address_is_outside_the_service_and_needs_the_current_password(
        web: Live, signed_domain: MailDomain, remote: FakeRemote) -> None:
    user = signed_domain.account("prasert")
    person = Person(web)
    person.login_user(user, PASSWORD)
    person.get("/me/recovery")
    for address in (f"other@{signed_domain.name}", user):
        r = person.post("/me/recovery", {"recovery_address": address, "current_password": PASSWORD})
        assert r.status_code == 400 and "is hosted here" in r.text
    r = person.post("/me/recovery", {"recovery_address": outside_address(), "current_password": "not-mine"})
    assert r.status_code == 400 and "is not your current password" in r.text
    assert "No recovery address is set." in person.get("/me/recovery").text
    person.http.cookies.set("mgt_lang", "th")
    r = person.post("/me/recovery", {"recovery_address": f"x@{signed_domain.name}", "current_password": PASSWORD})
    assert "อยู่ในระบบนี้" in r.text  # the reason in Thai


def test_a_link_is_refused_once_expired_and_a_reset_ends_change_at_next_login(
        services: Services, relay: Settings, mail_domain: MailDomain) -> None:
    """The clock moved, not waited for: the service with an injected clock, on the real
    directory and SQL store."""
    user = mail_domain.account("expiring")
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    config = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0))
    outbox = Outbox()
    RecoveryService(services.backends, user, config, outbox, clock=lambda: now).set(outside_address(), PASSWORD)
    confirm_recovery(services.backends, link_in(outbox.sent[-1][2], "/mail/recovery/confirm"), outbox,
                     clock=lambda: now)
    notice = email.message_from_bytes(outbox.sent[-1][2], policy=email.policy.default)
    assert outbox.sent[-1][:2] == (user, [user]) and "A new recovery address" in str(notice["Subject"])
    assert PasswordResetService(services.backends, config, outbox, clock=lambda: now).send_reset(user)
    token = link_in(outbox.sent[-1][2], "/mail/reset")

    def at(moment: datetime) -> PasswordResetService:
        return PasswordResetService(services.backends, config, outbox, clock=lambda: moment)

    assert at(now + timedelta(seconds=1799)).check_link(token).email == user
    for late in (now + timedelta(seconds=1800), now + timedelta(days=1)):
        with pytest.raises(LinkRefused):
            at(late).check_link(token)
        with pytest.raises(LinkRefused):
            at(late).reset(token, NEW_PASSWORD, NEW_PASSWORD)
    assert imap_login(relay, user, PASSWORD)  # the old password still works
    services.backends.accounts.set_must_change(user, True)  # "change at next login" (issue 20)
    assert at(now + timedelta(seconds=60)).reset(token, NEW_PASSWORD, NEW_PASSWORD).email == user
    assert not services.accounts.get(user).must_change_password  # the new password is the change
    assert imap_login(relay, user, NEW_PASSWORD)
    with services.backends.store.session() as session:
        assert session.get(ResetTokenRow, pr.token_hash(token)) is not None
    assert at(now + timedelta(days=2)).send_reset(user)  # a later request forgets links a day past expiry
    with services.backends.store.session() as session:
        assert session.get(ResetTokenRow, pr.token_hash(token)) is None


def test_the_reset_pages_are_in_thai(web: Live, signed_domain: MailDomain) -> None:
    from tests.web.test_i18n import untranslated

    user = signed_domain.account("thai")
    person = Person(web)
    person.http.cookies.set("mgt_lang", "th")
    pages = {path: person.get(path).text for path in ("/mail/login", "/mail/forgot", "/mail/reset/" + "x" * 43,
                                                      "/mail/recovery/confirm/" + "y" * 43)}
    pages["sent"] = ask_for_reset(person, f"nobody@{signed_domain.name}").text
    person.login_user(user, PASSWORD)
    pages["/me"] = person.get("/me").text
    pages["/me/recovery"] = person.get("/me/recovery").text
    assert {path: untranslated(html, "th") for path, html in pages.items() if untranslated(html, "th")} == {}


def test_without_a_public_url_the_pages_say_a_reset_is_not_available(relay: Settings) -> None:
    for live in serve(relay.replace(web_secret_key="reset-tests-secret", web_public_url="")):
        person = Person(live)
        assert "/mail/forgot" not in person.get("/mail/login").text
        page = person.get("/mail/forgot")
        assert page.status_code == 503 and "Passwords cannot be reset here" in page.text
        assert person.post("/mail/forgot", {"email": "somchai@moph.go.th"}).status_code == 503


def _certificate(name: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_web_sends_the_secret_only_to_the_relays_certificate(relay: Settings, mail_domain: MailDomain,
                                                                 tmp_path: Path) -> None:
    import ssl

    from mailgothai.relay_submission import RelaySubmission, SubmissionFailed

    user = mail_domain.account("pinned")
    chain = tmp_path / "chain.pem"  # the relay's own certificate first, then an "intermediate"
    chain.write_bytes(relay.tls_cert_path.read_bytes() + _certificate("intermediate.example"))
    own = relay.tls_cert_path.read_text()
    expected = hashlib.sha256(ssl.PEM_cert_to_DER_cert(own[own.index(ssl.PEM_HEADER):])).hexdigest()
    assert RelaySubmission(relay.replace(tls_cert_file=str(chain)))._pinned() == expected
    message = pr.confirm_mail(account=user, to="x@outside.example", url=PUBLIC_URL, now=datetime.now(UTC))
    RelaySubmission(relay.replace(tls_cert_file=str(chain))).send(user, ["pinned@outside.example"], message)

    other = tmp_path / "other.pem"
    other.write_bytes(_certificate("impostor.example"))
    with pytest.raises(SubmissionFailed, match="not the stack's"):  # (with the secret sent, it would go out)
        RelaySubmission(relay.replace(tls_cert_file=str(other))).send(user, ["x@outside.example"], message)
    with pytest.raises(SubmissionFailed, match="refused the login"):  # a wrong secret, for the record
        RelaySubmission(relay.replace(sieve_submit_secret="not-the-secret")).send(user, ["x@outside.example"],
                                                                                   message)


def test_a_reset_with_the_second_factor_on_sets_the_web_password_only(
        web: Live, relay: Settings, mail_domain: MailDomain) -> None:
    """With TOTP on, the main password opens the web only (with the code) and mail programs
    need app passwords: a reset link must not give IMAP the new main password."""
    from urllib.parse import parse_qs, urlsplit

    import pyotp

    from mailgothai.services.second_factor import UserSecurity

    user = mail_domain.account("twofactor")
    backends = mail_domain.services.backends
    security = UserSecurity(web.state.backends, user)  # sealed with the web's key: its code step works
    secret = parse_qs(urlsplit(security.start_totp()).query)["secret"][0]
    security.enable_totp(PASSWORD, pyotp.TOTP(secret).now())
    config = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0))
    outbox = Outbox()
    RecoveryService(backends, user, config, outbox).set(outside_address(), PASSWORD)
    confirm_recovery(backends, link_in(outbox.sent[-1][2], "/mail/recovery/confirm"), outbox)
    assert PasswordResetService(backends, config, outbox).send_reset(user)
    token = link_in(outbox.sent[-1][2], "/mail/reset")
    intruder = Person(web)  # has the old password, and is at the code step
    assert intruder.login_user(user, PASSWORD).headers["location"] == "/mail/login/totp"
    intruder.get("/mail/login/totp")

    person = Person(web)
    person.get(f"/mail/reset/{token}")
    done = person.post(f"/mail/reset/{token}", {"new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD})
    assert done.status_code == 303
    assert not imap_login(relay, user, NEW_PASSWORD) and not imap_login(relay, user, PASSWORD)
    assert not smtp_login(relay, user, NEW_PASSWORD)
    login = Person(web).login_user(user, NEW_PASSWORD)
    assert login.status_code == 303 and login.headers["location"] == "/mail/login/totp"  # the code still asked
    # the session the old password opened ends with the reset: its code step leads nowhere
    import time

    code = pyotp.TOTP(secret).at((int(time.time() // 30) + 1) * 30)
    assert intruder.post("/mail/login/totp", {"code": code}).headers.get("location") != "/me"
    assert intruder.get("/me").headers.get("location", "").startswith("/mail/login")


def test_an_admins_reset_voids_the_open_links_and_removes_the_recovery_address(
        services: Services, relay: Settings, mail_domain: MailDomain) -> None:
    """After a break-in the admin resets the password: the intruder's recovery address and
    the reset link it already has must not take the account back."""
    user = mail_domain.account("broken-in")
    backends = services.backends
    config, outbox = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0)), Outbox()
    address, token = confirmed_recovery_and_link(backends, user, config, outbox)

    services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    resets = PasswordResetService(backends, config, outbox)
    with pytest.raises(LinkRefused):
        resets.check_link(token)
    with pytest.raises(LinkRefused):
        resets.reset(token, "Intruder-Pass-word-9", "Intruder-Pass-word-9")
    assert imap_login(relay, user, NEW_PASSWORD)
    assert RecoveryService(backends, user, config, outbox).show() is None, "the recovery address is gone"
    sent = len(outbox.sent)
    assert not resets.send_reset(user) and len(outbox.sent) == sent, "no reset mail goes to the old address"
    [record] = backends.audit.query(object_id=user, action="account.password")
    assert record.after == {"change_at_next_login": False, "recovery_address_removed": address}


def test_a_reset_through_the_link_revokes_the_app_passwords(
        services: Services, relay: Settings, mail_domain: MailDomain) -> None:
    """The link takes back an account whose password was lost, perhaps to an intruder who
    made app passwords with it: they go with the old password, named in the audit."""
    user = mail_domain.account("link-apps")
    backends = services.backends
    _, app = UserSecurity(backends, user).create_app_password("tablet", PASSWORD)
    assert smtp_login(relay, user, app)
    config, outbox = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0)), Outbox()
    _, token = confirmed_recovery_and_link(backends, user, config, outbox)
    PasswordResetService(backends, config, outbox).reset(token, NEW_PASSWORD, NEW_PASSWORD)
    assert imap_login(relay, user, NEW_PASSWORD) and smtp_login(relay, user, NEW_PASSWORD)
    assert not smtp_login(relay, user, app) and not imap_login(relay, user, app)
    assert UserSecurity(backends, user).app_passwords() == []
    [record] = backends.audit.query(object_id=user, action="account.password", limit=1)
    assert record.after == {"by": "reset link", "app_logins_revoked": ["tablet"]}


def test_the_users_own_change_voids_the_open_reset_links(
        services: Services, relay: Settings, mail_domain: MailDomain) -> None:
    user = mail_domain.account("changes-own")
    backends = services.backends
    config, outbox = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0)), Outbox()
    address, token = confirmed_recovery_and_link(backends, user, config, outbox)

    SelfService(backends, user, cast(UsageRefresher, None)).change_password(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    resets = PasswordResetService(backends, config, outbox)
    with pytest.raises(LinkRefused):
        resets.check_link(token)
    with pytest.raises(LinkRefused):
        resets.reset(token, "Other-Pass-word-9", "Other-Pass-word-9")
    assert imap_login(relay, user, NEW_PASSWORD)
    shown = RecoveryService(backends, user, config, outbox).show()
    assert shown is not None and shown.address == address, "the user's own recovery address stays"
    assert resets.send_reset(user), "and a new link can be asked for"


def test_a_new_recovery_address_voids_the_links_sent_to_the_old_one(
        services: Services, relay: Settings, mail_domain: MailDomain) -> None:
    user = mail_domain.account("moves-recovery")
    backends = services.backends
    config, outbox = ResetConfig(PUBLIC_URL, 1800, pr.ThrottleRules(0, 0)), Outbox()
    old_address, token = confirmed_recovery_and_link(backends, user, config, outbox)
    RecoveryService(backends, user, config, outbox).set(outside_address(), PASSWORD)  # not confirmed yet
    old_confirm = link_in(outbox.sent[-1][2], "/mail/recovery/confirm")
    RecoveryService(backends, user, config, outbox).set(outside_address(), PASSWORD)

    with pytest.raises(LinkRefused):
        PasswordResetService(backends, config, outbox).check_link(token)
    with pytest.raises(LinkRefused):
        PasswordResetService(backends, config, outbox).reset(token, NEW_PASSWORD, NEW_PASSWORD)
    with pytest.raises(LinkRefused):
        confirm_recovery(backends, old_confirm, outbox)
    assert imap_login(relay, user, PASSWORD)
    with backends.store.session() as session:
        rows = session.scalars(select(ResetTokenRow).where(ResetTokenRow.address == old_address)).all()
        assert rows and all(r.used_at is not None for r in rows), "the old address's links are spent"
