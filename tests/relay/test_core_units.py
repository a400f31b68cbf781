"""Pure units of the relay's core: the policy table and decisions, DKIM signing
checked by dkimpy, command buckets, DSNs, retry backoff, and the shared hourly
counter under concurrent relays."""

from __future__ import annotations

import email
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import dkim
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgothai.core import policy as p
from mailgothai.core.dkim import dns_name, parse, relaxed_body, relaxed_header, to_crlf
from mailgothai.core.dsn import FailedRecipient, build_dsn
from mailgothai.core.sender_headers import SenderField
from mailgothai.core.throttle import CommandBuckets, CommandRules, OpenConnections, client_key
from mailgothai.dkim.keys import generate
from mailgothai.dkim.signer import SigningKey, sign
from mailgothai.store import Store
from mailgothai.store.relay_state import SendCounters

T = TypeVar("T")


# ---- policy -----------------------------------------------------------------------------
@pytest.mark.parametrize("path,reason", [
    ("<victim%evil.example@hosted.go.th>", "routing"),
    ("<evil.example!victim@hosted.go.th>", "routing"),
    ("<\"victim@evil.example\"@hosted.go.th>", "quoted"),
    ("<victim@[192.0.2.1]>", "invalid character"),
    ("<victim@evil.example.>", "dot"),
    ("<>", "empty"),
])
def test_recipient_paths_that_are_refused(path: str, reason: str) -> None:
    decision = p.parse_envelope_address(path, sender=False)
    assert not decision.ok and decision.reply.code == 553
    assert reason in decision.reply.text.lower()


def test_addresses_are_normalized_uppercase_and_idn() -> None:
    assert p.parse_envelope_address("<USER@MOPH.GO.TH>", sender=False).address == "user@moph.go.th"
    assert p.parse_envelope_address("<a@ไทย.example>", sender=False).address == "a@xn--o3cw4h.example"
    assert p.parse_envelope_address("<>", sender=True).address == ""


def test_unauthenticated_only_to_active_local_recipients() -> None:
    remote = p.RecipientFacts("x@evil.example", hosted=False)
    assert p.decide_recipient(remote, authenticated=False).reply.code == 554
    assert p.decide_recipient(remote, authenticated=True).ok
    local = p.RecipientFacts("a@h.go.th", hosted=True, found=p.Found.MAILBOX, targets=("a@h.go.th",))
    assert p.decide_recipient(local, authenticated=False).ok
    cases = {
        p.RecipientFacts("a@h.go.th", hosted=True): (550, "5.1.1"),
        p.RecipientFacts("a@h.go.th", hosted=True, domain_active=False): (550, "5.2.1"),
        p.RecipientFacts("a@h.go.th", hosted=True, found=p.Found.MAILBOX, active=False): (550, "5.2.1"),
        p.RecipientFacts("a@h.go.th", hosted=True, found=p.Found.ALIAS, targets=()): (550, "5.1.1"),
        p.RecipientFacts("a@h.go.th", hosted=True, found=p.Found.MAILBOX, targets=("a@h.go.th",),
                         over_quota=("a@h.go.th",)): (452, "4.2.2"),
    }
    for facts, (code, status) in cases.items():
        reply = p.decide_recipient(facts, authenticated=True).reply
        assert (reply.code, reply.status) == (code, status), facts


def test_sender_decisions() -> None:
    owned = frozenset({"a@h.go.th", "alias@h.go.th"})
    kw = dict(sender_domain_hosted=True, sender_domain_active=True)
    assert p.decide_sender("alias@h.go.th", auth_user="a@h.go.th", owned=owned, **kw).ok
    assert p.decide_sender("b@h.go.th", auth_user="a@h.go.th", owned=owned, **kw).reply.code == 553
    assert p.decide_sender("", auth_user="a@h.go.th", owned=owned, **kw).reply.code == 553
    assert p.needs_dkim_proof("b@h.go.th", auth_user=None, sender_domain_hosted=True)
    assert not p.needs_dkim_proof("", auth_user=None, sender_domain_hosted=False)
    hosted = frozenset({"h.go.th"})
    assert p.decide_unauthenticated_claims("h.go.th", (), hosted, frozenset({"h.go.th"})) is None
    assert p.decide_unauthenticated_claims("h.go.th", (), hosted, frozenset({"other.go.th"})).code == 550
    assert p.decide_sender_fields((SenderField("From:", ("a@h.go.th",), frozenset()),), owned) is None
    assert p.decide_sender_fields((SenderField("From:", ("boss@h.go.th",), frozenset()),), owned).code == 550
    assert p.decide_sender_fields((), owned).code == 550


def test_every_reply_in_the_table_renders_on_one_line() -> None:
    for kind, reply in p.REPLIES.items():
        rendered = str(p.reply(kind, address="a\r\nb@c", limit=1, reason="r", domain="d", queue_id="q",
                               header="From:", sender="s\r\n@x", detail=": d", virus="v", text="change it\r\nat x"))
        assert "\r" not in rendered and "\n" not in rendered
        assert rendered.startswith(f"{reply.code} {reply.status} ")
        assert reply.status[0] == str(reply.code)[0]


def test_limits_size_hourly_backoff_and_bounces() -> None:
    assert p.check_size(2000, 1000).code == 552 and p.check_size(2000, 0) is None
    assert p.check_hourly(3, 3) is None and p.check_hourly(None, 3).code == 452 and p.check_hourly(None, 0) is None
    assert [p.retry_delay(n, 60, 3600) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert p.may_bounce("a@b.c", False) and not p.may_bounce("", False) and not p.may_bounce("a@b.c", True)


# ---- DKIM -------------------------------------------------------------------------------
def test_relaxed_canonicalization() -> None:
    assert relaxed_header(b"SubJect:  hello \r\n\t world  ") == b"subject:hello world"
    assert relaxed_body(b"a  b \t\r\n\r\n\r\n") == b"a b\r\n"
    assert relaxed_body(b"") == b"" and relaxed_body(b"\r\n\r\n") == b""


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_signatures_verify_with_dkimpy(algorithm: str) -> None:
    pair = generate(algorithm)
    key = SigningKey("h.go.th", "sel", algorithm, pair.load())
    msg = (b"From: A <a@h.go.th>\r\nTo: b@x.example\r\nSubject: folded\r\n  subject line\r\n"
           b"Date: Wed, 25 Nov 2026 08:00:00 +0000\r\n\r\nbody  with \t spaces \r\n.dot\r\n\r\n\r\n")
    signed = sign(msg, [key]) + msg
    records = {dns_name("sel", "h.go.th").encode() + b".": pair.record.encode()}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name if name.endswith(b".") else name + b".")

    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert not dkim.verify(signed.replace(b"body", b"BODY"), dnsfunc=dnsfunc)
    with_second_from = b"From: evil@evil.example\r\n" + signed
    assert not dkim.verify(with_second_from, dnsfunc=dnsfunc)  # From is over-signed



@pytest.mark.parametrize("added", [
    b"Reply-To: evil@evil.example", b"Subject: a second subject", b"Cc: more@evil.example", b"To: more@evil.example",
    b"Content-Type: text/html", b"MIME-Version: 1.0", b"Date: Thu, 26 Nov 2026 08:00:00 +0000",
    b"Message-ID: <other@evil.example>", b"In-Reply-To: <x@y>", b"References: <x@y>", b"From: evil@evil.example",
])
def test_a_header_added_after_signing_breaks_the_signature(added: bytes) -> None:
    """Audit: only From was over-signed and only present headers signed, so a Reply-To,
    a second Subject, a Cc … added later still verified."""
    pair = generate("rsa")
    key = SigningKey("h.go.th", "sel", "rsa", pair.load())
    msg = (b"From: A <a@h.go.th>\r\nTo: b@x.example\r\nSubject: s\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\n"
           b"Message-ID: <m@h.go.th>\r\n\r\nbody\r\n")
    signed = sign(msg, [key]) + msg
    records = {dns_name("sel", "h.go.th").encode() + b".": pair.record.encode()}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name if name.endswith(b".") else name + b".")

    assert dkim.verify(signed, dnsfunc=dnsfunc)
    head, body = signed.split(b"\r\n\r\n", 1)
    assert not dkim.verify(added + b"\r\n" + signed, dnsfunc=dnsfunc)  # on top
    assert not dkim.verify(head + b"\r\n" + added + b"\r\n\r\n" + body, dnsfunc=dnsfunc)  # at the end

def test_parse_joins_continuation_lines() -> None:
    parsed = parse(b"A: 1\n\tcont\nB: 2\n\nbody\n")
    assert [n for n, _ in parsed.headers] == [b"a", b"b"] and parsed.body == b"body\r\n"



def test_every_lone_cr_and_lf_is_a_line_end_and_crlf_text_is_not_copied() -> None:
    crlf = b"From: a@h.go.th\r\nSubject: s\r\n\r\nbody\r\n"
    assert to_crlf(crlf) is crlf  # the usual message: no copy
    assert to_crlf(b"X-Mailer: x\rFrom: b@h.go.th\r\rX: y\r\n") == b"X-Mailer: x\r\nFrom: b@h.go.th\r\n\r\nX: y\r\n"
    assert to_crlf(b"a\nb\r\r\nc\n\rd") == b"a\r\nb\r\n\r\nc\r\n\r\nd"
    parsed = parse(b"X-Mailer: x\rFrom: Director <d@h.go.th>\r\nFrom: a@h.go.th\r\n\r\nb\r\n")
    assert [raw for n, raw in parsed.headers if n == b"from"] == [b"From: Director <d@h.go.th>", b"From: a@h.go.th"]

# ---- throttle -----------------------------------------------------------------------------
def test_a_command_bucket_gives_its_burst_then_its_rate() -> None:
    buckets = CommandBuckets(CommandRules(rate=10, burst=40))
    assert all(buckets.take("1.1.1.1", 0.0) for _ in range(40))
    assert not buckets.take("1.1.1.1", 0.0)  # empty: refused
    assert not buckets.take("1.1.1.1", 0.05)  # half a token back only
    assert buckets.take("1.1.1.1", 0.1) and not buckets.take("1.1.1.1", 0.1)  # one token in 1/rate s
    assert buckets.take("2.2.2.2", 0.1)  # another address has its own bucket
    assert all(buckets.take("1.1.1.1", 100.0) for _ in range(40))  # refills, up to the burst only
    assert not buckets.take("1.1.1.1", 100.0)


def test_a_client_at_the_rate_is_never_refused() -> None:
    buckets = CommandBuckets(CommandRules(rate=10, burst=5))
    for n in range(10_000):  # exactly the rate, for 1,000 s
        assert buckets.take("1.1.1.1", n / 10)
    assert CommandBuckets(CommandRules(rate=0, burst=0)).take("1.1.1.1", 0.0)  # 0: no limit


def test_command_buckets_stay_bounded_and_keep_the_busy_ones() -> None:
    buckets = CommandBuckets(CommandRules(rate=1, burst=3), size=100)
    for _ in range(3):
        assert buckets.take("busy", 0.0)
    for n in range(1000):
        buckets.take(f"10.0.{n // 256}.{n % 256}", 0.0)
        assert len(buckets) <= 100
    assert not buckets.take("busy", 0.5)  # an empty bucket is not forgotten by pruning


def test_client_keys() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"


def test_session_error_cap_and_command_rate_replies() -> None:
    assert p.check_session_errors(19, 20) is None
    refused_errors = p.check_session_errors(20, 20)
    assert str(refused_errors) == "421 4.7.0 Too many refused commands in this session, closing"
    assert p.check_session_errors(1000, 0) is None  # 0: no cap
    assert p.check_command_rate(True) is None
    refused = p.check_command_rate(False)
    assert refused is not None and (refused.code, refused.status) == (421, "4.7.0")


# ---- DSN ---------------------------------------------------------------------------------------
def test_dsn_is_a_delivery_status_report() -> None:
    raw = build_dsn(reporting_mta="relay.go.th", sender="a@h.go.th", queue_id="q1", arrival=0, now=10,
                    original=b"Subject: hi\r\nFrom: a@h.go.th\r\n\r\nsecret body\r\n",
                    failed=[FailedRecipient("x@r.example", "x@r.example", "550 5.1.1 unknown"),
                            FailedRecipient("y@r.example", "y@r.example", "451 4.4.1 timeout", expired=True)])
    msg = email.message_from_bytes(raw)
    assert msg.get_content_type() == "multipart/report" and msg["To"] == "<a@h.go.th>"
    parts = [part.get_content_type() for part in msg.walk()]
    assert "message/delivery-status" in parts and "text/rfc822-headers" in parts
    assert b"Status: 5.1.1" in raw and b"Status: 4.4.7" in raw
    assert b"secret body" not in raw  # headers only come back


# ---- shared hourly counters ---------------------------------------------------------------
def test_two_relays_sharing_one_store_enforce_one_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first = Store.open(url)
    first.migrate()
    second = Store.open(url)
    counters = [SendCounters(first), SendCounters(second)]
    granted: list[int] = []
    lock = threading.Lock()

    def send(relay: SendCounters) -> None:
        for _ in range(60):
            if relay.add("a@h.go.th", 1000, 1, 50) is not None:
                with lock:
                    granted.append(1)

    threads = [threading.Thread(target=send, args=(counters[n % 2],)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 50 and counters[0].count("a@h.go.th", 1000) == 50
    assert counters[1].add("a@h.go.th", 1001, 1, 50) == 1  # a new hour starts from zero
    first.close()
    second.close()


@given(st.lists(st.text(alphabet=" \tab.x", max_size=12), max_size=8), st.booleans())
def test_relaxed_body_matches_dkimpy(lines: list[str], final_crlf: bool) -> None:
    from dkim.canonicalization import Relaxed

    body = "\r\n".join(lines).encode() + (b"\r\n" if final_crlf else b"")
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


def test_inbound_checks_fail_fast_without_dns_and_pass_hosted_signatures() -> None:
    from mailgothai.relay.inbound import InboundChecker

    pair = generate("rsa")
    msg = b"From: a@h.go.th\r\nSubject: x\r\n\r\nhello\r\n"
    own = sign(msg, [SigningKey("h.go.th", "sel", "rsa", pair.load())]) + msg
    foreign = sign(msg, [SigningKey("elsewhere.example", "sel", "rsa", pair.load())]) + msg

    class Published:  # the key table's answer for hosted domains only
        def published(self, name: str) -> bytes | None:
            return pair.record.encode() if name == dns_name("sel", "h.go.th") else None

    checker = InboundChecker(Published(), "off", 1)  # type: ignore[arg-type]
    verdict = checker.check(own, "192.0.2.1", "mx.example", "a@h.go.th")
    assert [r.result for r in verdict.dkim] == ["pass"] and verdict.passed_domains() == {"h.go.th"}
    assert verdict.spf == "temperror"
    assert [r.result for r in checker.check(foreign, "192.0.2.1", "mx", "a@h.go.th").dkim] == ["temperror"]
    tampered = own.replace(b"hello", b"HELLO")
    assert [r.result for r in checker.check(tampered, "192.0.2.1", "mx", "a@h.go.th").dkim] == ["fail"]
    assert checker.check(msg, "192.0.2.1", "mx", "").header("relay.go.th", "") == \
        b"Authentication-Results: relay.go.th;\r\n\tdkim=none;\r\n\tspf=temperror\r\n"


def test_a_signing_failure_leaves_the_mail_unsigned_not_dropped() -> None:
    from types import SimpleNamespace

    from mailgothai.relay.context import RelayContext
    from mailgothai.relay.metrics import RelayMetrics

    metrics = RelayMetrics()
    broken = SigningKey("h.go.th", "sel", "rsa", None)  # type: ignore[arg-type]
    ctx = SimpleNamespace(keys=SimpleNamespace(signing_keys=lambda domain: [broken]), metrics=metrics)
    assert RelayContext.sign(ctx, b"From: a@h.go.th\r\n\r\nbody\r\n", "h.go.th") == b""  # type: ignore[arg-type]
    ok = SigningKey("h.go.th", "sel", "rsa", generate("rsa").load())
    ctx = SimpleNamespace(keys=SimpleNamespace(signing_keys=lambda domain: [ok]), metrics=metrics)
    assert RelayContext.sign(ctx, b"From: a@h.go.th\r\n\r\nbody\r\n", "h.go.th").startswith(b"DKIM-Signature:")  # type: ignore[arg-type]
    assert metrics.registry.get_sample_value("mailgothai_relay_dkim_signatures_total") == 1  # not the failed one


def test_without_dns_remote_mail_waits_in_the_queue_instead_of_failing() -> None:
    import asyncio

    from mailgothai.relay.remote import DnsUnavailable, RemoteSender, Resolver

    resolver = Resolver("off", 1)
    with pytest.raises(DnsUnavailable):
        asyncio.run(resolver.mx_hosts("remote.example"))
    replies = asyncio.run(RemoteSender("", resolver, "relay.go.th").deliver("a@h.go.th", ["b@remote.example"], b"x"))
    assert replies["b@remote.example"].code == 451 and replies["b@remote.example"].text.startswith("4.4.3")


# ---- room in a mailbox: what the relay asks Dovecot's quota-status ------------------------
def _with_quota_status(tmp_path: Path, free: dict[str, int],
                       scenario: Callable[[Path], Awaitable[T]]) -> tuple[T, list[tuple[str, int]]]:
    """Run `scenario(socket)` against a stand-in for Dovecot's quota-status: a mailbox has
    room while the size asked is at most `free[recipient]`. The scenario closes its
    QuotaStatus. Returns its result and every (recipient, size) asked, in order."""
    import asyncio

    asked: list[tuple[str, int]] = []

    async def main() -> T:
        served = asyncio.Event()  # the connection is closed on both ends

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                try:
                    request = await reader.readuntil(b"\n\n")
                except asyncio.IncompleteReadError:
                    break
                fields = dict(line.split("=", 1) for line in request.decode().split("\n") if "=" in line)
                asked.append((fields["recipient"], int(fields["size"])))
                room = int(fields["size"]) <= free[fields["recipient"]]
                writer.write(b"action=DUNNO\n\n" if room else b"action=452 4.2.2 Mailbox is full\n\n")
                await writer.drain()
            writer.close()
            await writer.wait_closed()
            served.set()

        server = await asyncio.start_unix_server(answer, path=str(tmp_path / "qs"))
        try:
            result = await scenario(tmp_path / "qs")
            await asyncio.wait_for(served.wait(), 5)
            return result
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main()), asked


def test_messages_in_the_queue_count_until_their_delivery_attempt_is_over(tmp_path: Path) -> None:
    """quota-status is asked for the message plus what this relay has accepted for the
    mailbox and not yet delivered; a finished attempt counts off once."""
    from mailgothai.relay.quota import QuotaStatus

    async def scenario(socket: Path) -> list[bool]:
        quota = QuotaStatus(socket, timeout=5)
        try:
            first = await quota.has_room("malee@moph.go.th", 10_000)
            quota.hold("Q1", ["malee@moph.go.th"], 15_000)  # accepted, still in the queue
            quota.hold("Q2", ["malee@moph.go.th"], 10_000)
            second = await quota.has_room("malee@moph.go.th", 10_000)  # 35,000 asked: full
            other = await quota.has_room("anan@moph.go.th", 10_000)  # another mailbox: not affected
            quota.settle("Q1", ["malee@moph.go.th"])
            quota.settle("Q1", ["malee@moph.go.th"])  # a second attempt of Q1: counted off once
            third = await quota.has_room("malee@moph.go.th", 10_000)  # 20,000 asked
            return [first, second, other, third]
        finally:
            quota.close()

    free = {"malee@moph.go.th": 30_000, "anan@moph.go.th": 30_000}  # bytes of room in each mailbox
    answers, asked = _with_quota_status(tmp_path, free, scenario)
    assert answers == [True, False, True, True]
    assert [size for _, size in asked] == [10_000, 35_000, 10_000, 20_000]


def test_room_confirmed_ahead_is_spent_without_asking_and_ends_on_change(tmp_path: Path) -> None:
    """With a grant, Dovecot is asked for the message plus a margin; later messages to the
    mailbox spend that margin without a question, until it is spent, the account's entry
    changes, or the grant expires. A mailbox without that much room is asked exactly."""
    from mailgothai.relay.quota import QuotaStatus

    now = [1000.0]
    malee, anan = "malee@moph.go.th", "anan@moph.go.th"

    async def scenario(socket: Path) -> list[bool]:
        quota = QuotaStatus(socket, grant_bytes=100_000, grant_seconds=30, clock=lambda: now[0])
        out = []
        try:
            out.append(await quota.has_room(malee, 10_000, "v1"))  # asks for 110,000: granted
            quota.hold("M0", [malee], 10_000)  # accepted: counts against the margin
            for n in range(1, 11):  # ten more of 10,000: within the 110,000 confirmed, no question
                assert await quota.has_room(malee, 10_000, "v1")
                quota.hold(f"M{n}", [malee], 10_000)
            out.append(await quota.has_room(malee, 10_000, "v1"))  # 120,000 > 110,000: asks again
            quota.settle("M0", [malee])
            out.append(await quota.has_room(malee, 5_000, "v2"))  # the entry changed (new quota?): asks again
            now[0] += 31
            out.append(await quota.has_room(malee, 5_000, "v2"))  # expired: asks again
            out.append(await quota.has_room(anan, 10_000, "a1"))  # 110,000 does not fit: asked exactly
            out.append(await quota.has_room(anan, 10_000, "a1"))  # and exactly again while the grant would run
            out.append(await quota.has_room(anan, 60_000, "a1"))  # too big for what is free
            return out
        finally:
            quota.close()

    answers, asked = _with_quota_status(tmp_path, {malee: 1_000_000, anan: 50_000}, scenario)
    assert answers == [True, True, True, True, True, True, False]
    assert asked == [
        (malee, 110_000),
        (malee, 10_000 + 110_000 + 100_000),  # the message + what is queued (11 held) + margin
        (malee, 5_000 + 100_000 + 100_000),  # one of them settled
        (malee, 5_000 + 100_000 + 100_000),
        (anan, 110_000), (anan, 10_000),
        (anan, 10_000),
        (anan, 60_000),
    ]


PATHS = ["<a@b.c>", "<a@b.c> SIZE=100", "<A.B@X.Y> BODY=8BITMIME SIZE=5", "<>", "<a..b@c>", "<.a@b>", "<a.@b>",
         "<a@b..c>", "<a@[1.2.3.4]>", '<"a@b"@c.d>', "<@x,@y:a@b>", "<a%b@c>", "<a!b@c>", " <a@b>", "<a@b", "a@b",
         "<a@b.>", "<a@-b.c>", "<user+tag@sub.domain.go.th>  SIZE=1", "<a@b>x", "<a b@c>", "<a(c)@b>", "<ก@b.th>",
         "<a@xn--abc.th>", "<a@b_c.d>", "<" + "x" * 70 + "@b.c>", "<a@b.c>SIZE=1", "<a\\@b@c>", "",
         "<a@b> (c) SIZE=1", "<a@b>\tSIZE=1", "<a@b> \t SIZE=1 ", "<a@b>(x)", "<a@b> <c@d>", "<a@b>>", "<<a@b>>"]


def _both_parsers() -> tuple[object, object]:
    from aiosmtpd.smtp import SMTP

    from mailgothai.relay.smtp import RelaySMTP

    ours, theirs = object.__new__(RelaySMTP), object.__new__(SMTP)
    ours.local_part_limit = theirs.local_part_limit = 64  # type: ignore[attr-defined]
    return ours, theirs


def _parsed(parser: object, arg: str) -> object:
    try:
        return parser._getaddr(arg)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the same failure is the same answer
        return type(exc)


@pytest.mark.parametrize("arg", PATHS)
def test_the_relays_path_parser_answers_as_aiosmtpds(arg: str) -> None:
    ours, theirs = _both_parsers()
    assert _parsed(ours, arg) == _parsed(theirs, arg)


@given(st.text(alphabet="<>@.a-_+\"() \t[]:,%!Zก", max_size=24))
def test_the_relays_path_parser_answers_as_aiosmtpds_for_any_text(arg: str) -> None:
    ours, theirs = _both_parsers()
    assert _parsed(ours, arg) == _parsed(theirs, arg)


def test_room_grants_bookkeeping() -> None:
    """core/room.py alone: a grant covers what fits in the confirmed room, ends with a new
    entry version or its time, and a mailbox found short is asked exactly meanwhile."""
    from mailgothai.core.room import RoomGrants

    now = [0.0]
    grants = RoomGrants(margin=1_000, seconds=30, clock=lambda: now[0])
    assert not grants.covered("a@h.go.th", 10, "v1")
    grant = grants.open("a@h.go.th", 100, 50, "v1")
    assert grant is not None and grant.asked == 100 + 50 + 1_000
    assert not grants.covered("a@h.go.th", 10, "v1")  # not confirmed yet
    grant.room = grant.asked
    grants.accepted("a@h.go.th", 100)  # the message the question was for
    assert grants.covered("a@h.go.th", 1_000, "v1")  # 50 + 100 + 1,000 = 1,150
    assert not grants.covered("a@h.go.th", 1_001, "v1")
    assert not grants.covered("a@h.go.th", 10, "v2")  # the entry changed
    now[0] = 31
    assert not grants.covered("a@h.go.th", 10, "v1")  # expired
    short = grants.open("b@h.go.th", 10, 0, "v1")  # asked, and Dovecot said no: room stays 0
    assert short is not None and grants.open("b@h.go.th", 10, 0, "v1") is None  # exactly, meanwhile
    now[0] = 62
    assert grants.open("b@h.go.th", 10, 0, "v1") is not None  # ask ahead again later
    assert RoomGrants(margin=0, seconds=30).open("a@h.go.th", 10, 0, "v1") is None  # grants off


def test_open_connections_are_counted_per_ipv4_address_and_per_ipv6_64() -> None:
    """The connection cap binds a whole IPv6 /64 (one host usually holds one), as the
    command buckets do; before, each address of a /64 had its own count."""
    counts = OpenConnections()
    keys = [counts.opened(f"2001:db8:1:2::{n:x}") for n in range(1, 4)]
    assert [n for _, n in keys] == [1, 2, 3]
    assert counts.count("2001:db8:1:2:ffff::1") == 3
    assert counts.opened("2001:db8:1:3::1")[1] == 1  # another /64
    assert counts.opened("192.0.2.1")[1] == 1 and counts.opened("192.0.2.2")[1] == 1
    assert counts.opened("::ffff:192.0.2.1")[1] == 2  # IPv4-mapped is the IPv4 address
    for key, _ in keys:
        counts.closed(key)
    assert counts.count("2001:db8:1:2::1") == 0
