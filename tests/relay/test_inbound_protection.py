"""Inbound protection end to end (issue 18): a stack of its own with protection = 1 (the
real rspamd, Redis and clamd `stack up` runs), mail over the MX and the submission port
with smtplib, and what the recipient finds over IMAP."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import smtplib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from conftest import free_port, stack_data_dir, stack_settings
from imapclient import IMAPClient

from mailgothai.core.models import Role
from mailgothai.core.quarantine import State
from mailgothai.core.spam import ListKind, PolicyBounds, SenderRule, SpamPolicy
from mailgothai.relay.health import check as relay_health
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import manager, protection
from mailgothai.stack.process import read_pid
from mailgothai.store import Store
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.spam_policy import SpamPolicies
from relay.conftest import FakeRemote, relay_with
from relay.helpers import PASSWORD, message, mx, submission, wait_for
from relay.test_metrics import scrape, value
from tests.dnsserver import DnsServer

pytestmark = pytest.mark.integration

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# the same message goes to a domain of the default policy (junk at 6) and to one whose
# junk score is far lower: rspamd scores it the same, the domains' policies differ
SENDER = "someone@sender.example"


@dataclass
class Guarded:
    settings: Settings
    services: Services
    policies: SpamPolicies
    quarantine: QuarantineIndex

    def domain(self, policy: SpamPolicy | None = None) -> str:
        name = f"p{uuid.uuid4().hex[:10]}.go.th"
        self.services.domains.add(name, description="protection test")
        if policy is not None:
            self.policies.set_policy(name, policy, "test")
        return name

    def account(self, domain: str, local: str = "user") -> str:
        address = f"{local}@{domain}"
        self.services.accounts.add(address, PasswordInput(plain=PASSWORD))
        return address


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer.running() as server:
        yield server


@pytest.fixture(scope="module")
def guarded(remote: FakeRemote, dns: DnsServer) -> Iterator[Guarded]:
    """A stack of its own with rspamd, Redis and clamd, resolving through the test's DNS
    server; greylisting off by the operator's default (its own test turns it on for one
    domain), a short greylisting delay."""
    with stack_data_dir("protection") as data_dir:
        settings = stack_settings(data_dir, protection=1, greylist_delay=2, rspamd_timeout=20, relay_dns=dns.address,
                                  relay_smarthost=f"127.0.0.1:{remote.port}",  # type: ignore[attr-defined]
                                  relay_retry_base=1, relay_retry_max=2, relay_lookup_cache_ttl=0)
        state = manager.up(settings)
        store = Store.open(state.settings.sql_url_effective)
        try:
            policies = SpamPolicies(store)
            policies.set_defaults(SpamPolicy(greylisting=False), PolicyBounds(), "test")
            with Services.open(state.settings, Actor("test-operator", Role.SUPERADMIN, origin="test")) as services:
                yield Guarded(state.settings, services, policies, QuarantineIndex(store))
        finally:
            store.close()
            manager.down(state.settings)


def folders(settings: Settings, user: str) -> dict[str, list[bytes]]:
    """Every message in each of the user's folders."""
    found: dict[str, list[bytes]] = {}
    with IMAPClient(settings.host, port=settings.imap_port, ssl=False, timeout=30) as imap:
        imap.login(user, PASSWORD)
        for _, _, name in imap.list_folders():
            imap.select_folder(name, readonly=True)
            ids = imap.search("ALL")
            data = imap.fetch(ids, ["RFC822"]) if ids else {}
            found[name] = [data[i][b"RFC822"] for i in sorted(data)]
    return found


def wait_delivered(settings: Settings, user: str) -> tuple[str, bytes]:
    def one() -> tuple[str, bytes] | None:
        for name, messages in folders(settings, user).items():
            if messages:
                return name, messages[0]
        return None

    return wait_for(one, f"a message for {user}")


def header_lines(data: bytes) -> list[str]:
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode()
    return head.replace("\n\t", " ").replace("\n ", " ").split("\n")


def fields(data: bytes, name: str) -> list[str]:
    prefix = name.lower() + ":"
    return [line.split(":", 1)[1].strip() for line in header_lines(data) if line.lower().startswith(prefix)]


def send_mx(settings: Settings, rcpts: list[str], data: bytes, sender: str = SENDER) -> dict[str, tuple[int, bytes]]:
    with contextlib.closing(mx(settings)) as client:
        try:
            return client.sendmail(sender, rcpts, data)
        finally:
            with contextlib.suppress(smtplib.SMTPException):
                client.quit()


def refused_at_data(settings: Settings, rcpt: str, data: bytes, sender: str = SENDER) -> tuple[int, str]:
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send_mx(settings, [rcpt], data, sender)
    return caught.value.smtp_code, caught.value.smtp_error.decode()


def relay_log(settings: Settings) -> str:
    return manager.RELAY.log_file(settings).read_text(errors="replace")


def logged(settings: Settings, event: str, recipient: str) -> list[dict[str, object]]:
    """The relay's JSON lines of `event` for messages to `recipient`."""
    lines = []
    for line in relay_log(settings).splitlines():
        start = line.find(json.dumps({"event": event})[:-1])  # '{"event": "accepted"'
        if start >= 0:
            entry = json.loads(line[start:])
            if recipient in entry["recipients"]:
                lines.append(entry)
    return lines


def refused_lines(settings: Settings, recipient: str) -> list[dict[str, object]]:
    return logged(settings, "refused", recipient)


def eicar_message(sender: str, to: str) -> bytes:
    attachment = base64.b64encode(EICAR).decode()
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: the report\r\nMessage-ID: <{uuid.uuid4().hex}@test>\r\n"
            "Date: Wed, 25 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain\r\n\r\nPlease see the attachment.\r\n"
            '--b1\r\nContent-Type: application/octet-stream; name="report.com"\r\n'
            'Content-Disposition: attachment; filename="report.com"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"{attachment}\r\n--b1--\r\n").encode()


def spool_files(settings: Settings) -> set[str]:
    return {p.name for p in settings.spool_dir.resolve().rglob("*") if p.is_file()}


# ---- rspamd's verdicts ----------------------------------------------------------------------

def test_gtube_over_the_mx_is_rejected_and_counted(guarded: Guarded) -> None:
    domain = guarded.domain()
    to = guarded.account(domain)
    since = datetime.now(UTC)
    code, text = refused_at_data(guarded.settings, to, message(SENDER, to, "offer", f"{GTUBE}\r\n"))
    assert code == 550 and text.startswith("5.7.1 Message rejected as spam")
    assert not any(folders(guarded.settings, to).values())
    [logged] = refused_lines(guarded.settings, to)  # why, for the operator
    assert (logged["reply"], logged["outcome"], logged["sender"], logged["client"]) == (
        "550 5.7.1", "reject", SENDER, "127.0.0.1")
    assert logged["symbols"] == {} and logged["detail"] == "Gtube pattern"  # GTUBE: rspamd's reject, no score
    # the dashboard's count (written by the relay in batches, a few seconds later)
    counted = wait_for(lambda: guarded.policies.counts([domain], since).get(domain), "the rejection to be counted")
    assert counted == {"reject": 1}
    # and Prometheus's (relay/metrics.py), counted at once, by domain and by the reply's kind
    scraped = scrape(guarded.settings)
    assert value(scraped, "mailgothai_relay_protection_total", domain=domain, outcome="reject") == 1
    assert value(scraped, "mailgothai_relay_refused_total", listener="mx", stage="data", reason="spam_rejected") >= 1


def test_gtube_is_quarantined_where_the_domain_rejects_nothing(guarded: Guarded) -> None:
    domain = guarded.domain(SpamPolicy(reject=None, greylisting=False, quarantine_days=3))
    to = guarded.account(domain)
    assert send_mx(guarded.settings, [to], message(SENDER, to, "offer kept", f"{GTUBE}\r\n")) == {}  # 250, kept
    [held] = guarded.quarantine.page(domains=[domain])  # written before the 250
    assert (held.sender, held.subject, held.domain) == (SENDER, "offer kept", domain)
    assert [(r.address, r.state) for r in held.recipients] == [(to, State.HELD)]
    assert (held.expires_at - held.received_at).days == 3
    kept = (guarded.settings.quarantine_path / held.id).read_bytes()  # as it would have been delivered
    assert kept.startswith(b"Received: ") and fields(kept, "X-Spam") == ["Yes"]
    assert fields(kept, "Authentication-Results")[0].startswith(guarded.settings.relay_hostname + ";")
    assert not any(folders(guarded.settings, to).values())


def test_an_eicar_attachment_is_refused_554(guarded: Guarded) -> None:
    to = guarded.account(guarded.domain())
    code, text = refused_at_data(guarded.settings, to, eicar_message(SENDER, to))
    assert code == 554 and text.startswith("5.7.1 Message refused: it contains a virus (")
    assert "EICAR" in text.upper()
    [logged] = refused_lines(guarded.settings, to)
    assert logged["outcome"] == "virus" and "EICAR" in str(logged["detail"]).upper()


def test_a_clean_message_is_delivered_with_the_verdict_and_authentication_results(guarded: Guarded) -> None:
    to = guarded.account(guarded.domain(SpamPolicy(junk=50.0, quarantine=None, reject=None, greylisting=False)))
    send_mx(guarded.settings, [to], message(SENDER, to, "minutes of the meeting", "See you on Monday.\r\n"))
    folder, data = wait_delivered(guarded.settings, to)
    assert folder == "INBOX"
    assert fields(data, "X-Spam") == ["No"] and len(fields(data, "X-Spam-Score")) == 1
    results = fields(data, "Authentication-Results")
    assert len(results) == 1 and results[0].startswith(guarded.settings.relay_hostname + ";")
    assert "spf=" in results[0] and "dkim=" in results[0] and "dmarc=" in results[0]
    assert "smtp.mailfrom=" + SENDER in results[0]
    [accepted] = logged(guarded.settings, "accepted", to)
    assert accepted["spam"] == "deliver" and accepted["score"] == float(fields(data, "X-Spam-Score")[0])


def test_forged_x_spam_fields_are_stripped(guarded: Guarded) -> None:
    """A sender's own X-Spam: No must not hide the verdict, nor its X-Spam: Yes forge one."""
    lenient = guarded.account(guarded.domain(SpamPolicy(junk=50.0, quarantine=None, reject=None, greylisting=False)))
    strict = guarded.account(guarded.domain(SpamPolicy(junk=-50.0, quarantine=None, reject=None, greylisting=False)))
    forged = "X-Spam: No\r\nX-Spam-Score: -99.00\r\nX-Spam-Flag: NO\r\nX-Spam-Status: No, score=-99\r\n\tfolded\r\n"
    send_mx(guarded.settings, [strict], message(SENDER, strict, "hide", "hello\r\n", extra=forged))
    send_mx(guarded.settings, [lenient], message(SENDER, lenient, "forge", "hello\r\n", extra="X-Spam: Yes\r\n"))
    _, hidden = wait_delivered(guarded.settings, strict)
    assert fields(hidden, "X-Spam") == ["Yes"] and fields(hidden, "X-Spam-Flag") == []
    assert fields(hidden, "X-Spam-Status") == [] and "-99.00" not in fields(hidden, "X-Spam-Score")[0]
    assert b"folded" not in hidden
    _, forged_yes = wait_delivered(guarded.settings, lenient)
    assert fields(forged_yes, "X-Spam") == ["No"]


def test_the_domains_scores_decide_the_outcome(guarded: Guarded) -> None:
    """One message, two domains: filed as junk (X-Spam: Yes, with its symbols) under a low
    junk score, plain under the default."""
    plain = guarded.account(guarded.domain(SpamPolicy(junk=50.0, quarantine=None, reject=None, greylisting=False)))
    low = guarded.account(guarded.domain(SpamPolicy(junk=-50.0, quarantine=None, reject=None, greylisting=False)))
    body = "Dear friend, CLICK HERE to claim your prize!!! Act now: http://prize.example/claim\r\n"
    for to in (plain, low):
        send_mx(guarded.settings, [to], message(SENDER, to, "YOU HAVE WON", body))
    plain_folder, as_plain = wait_delivered(guarded.settings, plain)
    junk_folder, as_junk = wait_delivered(guarded.settings, low)
    assert fields(as_plain, "X-Spam") == ["No"] and fields(as_junk, "X-Spam") == ["Yes"]
    assert (plain_folder, junk_folder) == ("INBOX", "Junk")  # the operator's Sieve script files spam away
    assert fields(as_plain, "X-Spam-Score") == fields(as_junk, "X-Spam-Score")
    assert fields(as_junk, "X-Spam-Symbols")
    assert len(fields(as_junk, "X-Spam-Symbols")[0]) <= 1000
    assert [e["spam"] for e in logged(guarded.settings, "accepted", low)] == ["junk"]


def test_a_hosted_domain_claimed_from_outside_without_its_signature_is_still_refused(guarded: Guarded) -> None:
    """The relay's own rule (its DKIM check) stays with rspamd scanning."""
    domain = guarded.domain()
    to = guarded.account(domain)
    forged = message(SENDER, to, "from your director", extra="").replace(
        f"From: <{SENDER}>".encode(), f"From: Director <director@{domain}>".encode())
    code, text = refused_at_data(guarded.settings, to, forged)
    assert code == 550 and text.startswith("5.7.1") and domain in text and "From:" in text


def test_an_alias_domain_takes_its_targets_policy_and_its_users_lists(guarded: Guarded) -> None:
    """Mail to x@ALIAS is under the target domain's scores and x@TARGET's own block list."""
    target = guarded.domain(SpamPolicy(junk=-50.0, quarantine=None, reject=None, greylisting=False))
    user = guarded.account(target)
    alias = f"a{uuid.uuid4().hex[:10]}.go.th"
    guarded.services.domain_routing.add_alias_domain(alias, target)
    as_alias = user.replace(f"@{target}", f"@{alias}")
    send_mx(guarded.settings, [as_alias], message(SENDER, as_alias, "by its other name"))
    _, got = wait_delivered(guarded.settings, user)
    assert fields(got, "X-Spam") == ["Yes"]  # the target's junk score
    guarded.policies.add_rule(SenderRule(user, ListKind.BLOCK, "sender.example"), "test")
    refused = send_mx(guarded.settings, [as_alias, guarded.account(guarded.domain())],
                      message(SENDER, as_alias, "again"))
    assert refused[as_alias][0] == 550


def test_one_transaction_carries_one_policy_and_a_block_list_refuses_at_rcpt(guarded: Guarded) -> None:
    default_a, default_b = guarded.account(guarded.domain()), guarded.account(guarded.domain())
    other = guarded.account(guarded.domain(SpamPolicy(junk=3.0, greylisting=False)))
    blocking_domain = guarded.domain()
    blocking = guarded.account(blocking_domain)
    guarded.policies.add_rule(SenderRule(blocking, ListKind.BLOCK, "sender.example"), "test")
    refused = send_mx(guarded.settings, [default_a, other, blocking, default_b],
                      message(SENDER, default_a, "to several", "hello\r\n"))
    assert refused[other][0] == 452 and refused[other][1].startswith(b"4.5.3")
    assert refused[blocking][0] == 550 and refused[blocking][1].startswith(b"5.7.1 Sender " + SENDER.encode())
    assert set(refused) == {other, blocking}
    wait_delivered(guarded.settings, default_b)
    send_mx(guarded.settings, [other], message(SENDER, other, "next transaction", "hello\r\n"))  # its own: accepted
    wait_delivered(guarded.settings, other)


def test_a_message_failing_its_domains_dmarc_reject_is_refused_550(guarded: Guarded, dns: DnsServer) -> None:
    """SPF allows only another address and nothing is signed: DMARC fails. p=reject is
    refused; the same failure under p=none is delivered, the failure recorded."""
    for name, policy in (("bank.example", "reject"), ("lax.example", "none")):
        dns.set(name, "TXT", "v=spf1 ip4:192.0.2.10 -all")
        dns.set(f"_dmarc.{name}", "TXT", f"v=DMARC1; p={policy}")
    to = guarded.account(guarded.domain())
    code, text = refused_at_data(guarded.settings, to, message("ceo@bank.example", to, "urgent transfer"),
                                 sender="ceo@bank.example")
    assert (code, text) == (550, "5.7.1 Message fails its sender domain's DMARC policy (p=reject)")
    send_mx(guarded.settings, [to], message("news@lax.example", to, "newsletter"), sender="news@lax.example")
    _, got = wait_delivered(guarded.settings, to)
    [results] = fields(got, "Authentication-Results")
    assert "spf=fail smtp.mailfrom=news@lax.example" in results and "dmarc=fail header.from=lax.example" in results


def test_an_allowed_sender_counts_only_when_its_domain_is_authenticated(guarded: Guarded, dns: DnsServer) -> None:
    """Everything is junk for this domain, except mail from an allowed sender whose SPF
    passes; the same allow entry for a sender whose SPF fails gives no pass."""
    dns.set("friend.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    dns.set("forged.example", "TXT", "v=spf1 ip4:192.0.2.10 -all")
    domain = guarded.domain(SpamPolicy(junk=-50.0, quarantine=None, reject=None, greylisting=False))
    friend_to, forged_to = guarded.account(domain, "a"), guarded.account(domain, "b")
    for pattern in ("friend.example", "forged.example"):
        guarded.policies.add_rule(SenderRule(domain, ListKind.ALLOW, pattern), "test")
    send_mx(guarded.settings, [friend_to], message("boss@friend.example", friend_to, "lunch"),
            sender="boss@friend.example")
    send_mx(guarded.settings, [forged_to], message("boss@forged.example", forged_to, "lunch"),
            sender="boss@forged.example")
    _, friendly = wait_delivered(guarded.settings, friend_to)
    _, forged = wait_delivered(guarded.settings, forged_to)
    assert fields(forged, "X-Spam") == ["Yes"]
    assert fields(friendly, "X-Spam") == ["No"]


# ---- rspamd down, hung, and the accept mode ----------------------------------------------------

def _stop_rspamd(settings: Settings) -> None:
    paths = protection.paths_for(settings)
    pid = read_pid(paths.rspamd_pid)
    assert pid and protection.rspamd_running(paths)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not protection.rspamd_running(paths) and not _answers(settings.rspamd_port), "rspamd to stop")


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_rspamd_stopped_is_451_and_nothing_is_lost_then_accepted(guarded: Guarded) -> None:
    settings = guarded.settings
    to = guarded.account(guarded.domain())
    data = message(SENDER, to, "while rspamd is down", "hello\r\n")
    _stop_rspamd(settings)
    try:
        before = spool_files(settings)
        code, text = refused_at_data(settings, to, data)
        assert (code, text) == (451, "4.7.1 Message could not be scanned now, try again later")
        assert spool_files(settings) == before  # refused: nothing kept to be delivered
        [logged] = refused_lines(settings, to)
        assert (logged["reply"], logged["outcome"]) == ("451 4.7.1", "unscanned")
        assert "unreachable" in str(logged["detail"])
        health = relay_health(settings)
        assert health.checks["rspamd"] is False and not health.healthy  # what the operator's monitoring sees
    finally:
        protection.start(settings)
    assert relay_health(settings).checks["rspamd"] is True
    assert send_mx(settings, [to], data) == {}  # the client's retry
    _, got = wait_delivered(settings, to)
    assert b"while rspamd is down" in got and fields(got, "X-Spam") == ["No"]


def test_a_hung_rspamd_is_451_within_the_timeout(guarded: Guarded) -> None:
    """A listener that takes the connection and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        with relay_with(guarded.settings, rspamd_port=silent.getsockname()[1], rspamd_timeout=2) as settings:
            to = guarded.account(guarded.domain())
            code, text = refused_at_data(settings, to, message(SENDER, to, "hung", "hello\r\n"))
            assert (code, text[:5]) == (451, "4.7.1")
            assert "did not answer within 2 s" in relay_log(settings)


def test_accept_mode_delivers_marked_unscanned(guarded: Guarded) -> None:
    with relay_with(guarded.settings, rspamd_port=free_port(), rspamd_unavailable="accept") as settings:
        to = guarded.account(guarded.domain())
        assert send_mx(settings, [to], message(SENDER, to, "unscanned", "hello\r\n")) == {}
        _, got = wait_delivered(settings, to)
        assert fields(got, "X-Spam-Status") == ["unscanned"] and fields(got, "X-Spam") == []
        assert fields(got, "Authentication-Results")[0].startswith(settings.relay_hostname)
        assert "accepted unscanned" in relay_log(settings)
        assert [e["spam"] for e in logged(settings, "accepted", to)] == ["unscanned"]


# ---- authenticated submission ----------------------------------------------------------------------

def test_a_virus_from_an_authenticated_user_is_refused_554_other_mail_goes(guarded: Guarded) -> None:
    domain = guarded.domain()
    user, to = guarded.account(domain, "sender"), guarded.account(domain, "rcpt")
    with contextlib.closing(submission(guarded.settings, user)) as client:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail(user, [to], eicar_message(user, to))
        assert caught.value.smtp_code == 554 and caught.value.smtp_error.startswith(b"5.7.1")
        # GTUBE is no virus: a user's own mail is scanned for viruses only
        client.sendmail(user, [to], message(user, to, "a test of the spam filter", f"{GTUBE}\r\n"))
    _, got = wait_delivered(guarded.settings, to)
    assert b"a test of the spam filter" in got and fields(got, "X-Spam") == []


# ---- greylisting ----------------------------------------------------------------------------------

def test_greylisting_451_then_accepted_after_the_delay(guarded: Guarded) -> None:
    to = guarded.account(guarded.domain(SpamPolicy(greylisting=True)))
    # a body of its own: rspamd lets a body it has seen long enough pass at once
    data = message("new@stranger.example", to, "first contact", f"hello, {uuid.uuid4().hex}\r\n")
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send_mx(guarded.settings, [to], data, sender="new@stranger.example")
    assert caught.value.smtp_code == 451 and caught.value.smtp_error.startswith(b"4.7.1 Greylisted")

    def retried() -> bool:  # as a sending MTA does, until the delay (2 s) has passed
        try:
            return send_mx(guarded.settings, [to], data, sender="new@stranger.example") == {}
        except smtplib.SMTPDataError as exc:
            assert exc.smtp_code == 451
            return False

    wait_for(retried, "the greylisted message to be accepted")
    _, got = wait_delivered(guarded.settings, to)
    assert b"first contact" in got


def test_a_failure_after_acceptance_is_told_only_to_a_sender_whose_domain_vouched_for_it(
        guarded: Guarded, dns: DnsServer, remote: FakeRemote) -> None:
    """Mail from outside to an account that forwards outside, refused there (550): the
    relay tells the sender (a DSN) only when the sender's domain vouched for it (SPF passed
    for this client); a sender whose SPF fails (forged) gets nothing — no backscatter — and
    the failure is logged."""
    dns.set("honest.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    dns.set("forged.example", "TXT", "v=spf1 ip4:192.0.2.10 -all")
    domain = guarded.domain(SpamPolicy(junk=None, quarantine=None, reject=None, greylisting=False))
    forward = f"fwd-{uuid.uuid4().hex[:8]}@remote.example"
    remote.scripts[forward] = ["550 5.7.1 not wanted here"]
    user = f"fwd@{domain}"
    guarded.services.accounts.add(user, PasswordInput(plain=PASSWORD), forwards=forward)
    honest, forged = f"boss-{uuid.uuid4().hex[:6]}@honest.example", f"boss-{uuid.uuid4().hex[:6]}@forged.example"
    for sender in (honest, forged):
        assert send_mx(guarded.settings, [user], message(sender, user, "minutes"), sender=sender) == {}
    wait_for(lambda: remote.messages_for(honest), "the DSN to the sender whose SPF passed", 60)
    [dsn] = remote.messages_for(honest)
    assert b"multipart/report" in dsn and forward.encode() in dsn
    def forged_dropped() -> bool:
        return any('"event": "bounce-dropped"' in line and forged in line
                   for line in relay_log(guarded.settings).splitlines())

    wait_for(forged_dropped, "the forged sender's failure logged", 60)
    assert remote.messages_for(forged) == []
