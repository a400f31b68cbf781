"""relay/rspamd.py against local servers that misbehave (silent, garbage, errors) or read
its requests, and relay/protection.py's decisions on rspamd's answers (a `send` that
answers standing in for rspamd: the real one is in test_inbound_protection.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import h11
import pytest

from mailgothai.core import policy as p
from mailgothai.core.spam import ListKind, PolicyKey, Scan, SenderRule, SpamPolicy
from mailgothai.relay.protection import NO_GREYLISTING, VIRUS_ONLY, PolicyCache, Protection, SpamState, Tally
from mailgothai.relay.rspamd import RspamdClient, ScanRequest, ScanUnavailable, Send, parse_reply
from mailgothai.relay.spool import Envelope
from mailgothai.settings import Settings, load_settings

REQUEST = ScanRequest(sender="a@example.org", recipients=["b@gov.test", "c@gov.test"], ip="192.0.2.1",
                      helo="mx.example.org", queue_id="Q1")
# what rspamd 3.4 answered (GTUBE; a clean message), trimmed
GTUBE = (b'{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":'
         b'{"name":"GTUBE","score":0.0,"metric_score":0.0}},"messages":{"smtp_message":"Gtube pattern"},'
         b'"message-id":"undef","time_real":0.05}')
CLEAN = (b'{"is_skipped":false,"score":1.2,"required_score":15.0,"action":"no action","symbols":{"MIME_GOOD":'
         b'{"name":"MIME_GOOD","score":-0.1,"metric_score":-0.1,"options":["text/plain"]},"RDNS_NONE":'
         b'{"name":"RDNS_NONE","score":1.0}},"messages":{},"message-id":"x@example.org"}')


def test_rspamds_replies_are_read() -> None:
    gtube = parse_reply(GTUBE)
    assert (gtube.action, gtube.score, gtube.message, dict(gtube.symbols)) == ("reject", 15.0, "Gtube pattern",
                                                                               {"GTUBE": 0.0})
    clean = parse_reply(CLEAN)
    assert clean.action == "no action" and clean.symbols == {"MIME_GOOD": -0.1, "RDNS_NONE": 1.0}
    assert clean.options == {"MIME_GOOD": ("text/plain",)}


@pytest.mark.parametrize("body", [
    b"", b"<html>502 Bad Gateway</html>", b"[]", b'{"score": 1.0}', b'{"action": "no action"}',
    b'{"action": "pass", "score": 0}', b'{"action": "no action", "score": "low"}',
    b'{"action": "no action", "score": NaN}', b'{"action": "no action", "score": true}',
    b'{"action": "no action", "score": 0, "symbols": []}',
    b'{"action": "no action", "score": 0, "symbols": {"A": 1}}',
    b'{"action": "no action", "score": 0, "symbols": {"A": {"score": 1, "options": "x"}}}',
    b'{"error": "cannot parse input"}',
])
def test_a_reply_that_is_not_rspamds_is_an_error_never_a_pass(body: bytes) -> None:
    with pytest.raises(ScanUnavailable):
        parse_reply(body)


def _serve(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
           test: Callable[[int], Awaitable[None]]) -> None:
    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await test(port)
        finally:
            server.close()

    asyncio.run(main())


async def _check(port: int, timeout: float = 0.5) -> Scan:
    client = RspamdClient("127.0.0.1", port, timeout)
    try:
        return await client.check(b"Subject: x\r\n\r\nbody\r\n", REQUEST)
    finally:
        await client.aclose()


def test_a_silent_rspamd_is_unavailable_after_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # to the end: the client gives up first and closes
        finally:
            writer.close()
            await writer.wait_closed()

    async def test(port: int) -> None:
        with pytest.raises(ScanUnavailable, match="did not answer within 0.5 s"):
            await _check(port)

    _serve(silent, test)


@pytest.mark.parametrize(("reply", "match"), [
    (b"garbage\r\n\r\n", "unreachable"),
    (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!", "HTTP 500"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!", "not JSON"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"action\"", "unreachable"),  # closed mid-reply
])
def test_garbage_and_errors_are_unavailable(reply: bytes, match: str) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def test(port: int) -> None:
        with pytest.raises(ScanUnavailable, match=match):
            await _check(port)

    _serve(answer, test)


def test_refused_is_unavailable() -> None:
    async def nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
        await writer.wait_closed()

    closed: list[int] = []

    async def remember(port: int) -> None:
        closed.append(port)

    _serve(nothing, remember)  # a port nobody listens on any more
    with pytest.raises(ScanUnavailable, match="unreachable"):
        asyncio.run(_check(closed[0]))


class _Rspamd:
    """A server that reads each request with h11, as rspamd would, and answers CLEAN;
    `keep_alive`: on the same connection, as HTTP/1.1 allows."""

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.requests: list[tuple[h11.Request, bytes]] = []
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._answer(reader, writer)
        finally:  # also when the test's loop ends first and cancels this
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        http = h11.Connection(h11.SERVER)
        request, body = None, b""
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data:
                    break
                http.receive_data(data)
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                self.requests.append((request, body))
                request, body = None, b""
                close = [] if self.keep_alive else [(b"Connection", b"close")]
                writer.write(http.send(h11.Response(status_code=200, headers=[
                    (b"Content-Length", str(len(CLEAN)).encode()), *close])) + http.send(h11.Data(data=CLEAN))
                    + http.send(h11.EndOfMessage()))
                await writer.drain()
                if not self.keep_alive:
                    break
                http.start_next_cycle()
            else:
                break


def test_the_envelope_goes_in_rspamds_headers() -> None:
    server = _Rspamd(keep_alive=False)
    request = ScanRequest(sender="a@example.org", recipients=["b@gov.test", "c@gov.test"], ip="192.0.2.1",
                          helo="evil\r\nIP: 127.0.0.1", user="u@gov.test", queue_id="Q1", settings=VIRUS_ONLY)

    async def test(port: int) -> None:
        client = RspamdClient("127.0.0.1", port, 5)
        try:
            scan = await client.check(b"Subject: x\r\n\r\nbody\r\n", request)
        finally:
            await client.aclose()
        assert scan.action == "no action" and scan.score == 1.2

    _serve(server, test)
    sent, body = server.requests[0]
    headers: dict[bytes, list[bytes]] = {}
    for name, value in sent.headers:
        headers.setdefault(name.lower(), []).append(value)
    assert sent.method == b"POST" and sent.target == b"/checkv2" and body == b"Subject: x\r\n\r\nbody\r\n"
    assert headers[b"rcpt"] == [b"b@gov.test", b"c@gov.test"]
    assert headers[b"ip"] == [b"192.0.2.1"]  # the HELO could not add one
    assert [headers[n][0] for n in (b"from", b"helo", b"user", b"queue-id")] == [
        b"a@example.org", b"evilIP: 127.0.0.1", b"u@gov.test", b"Q1"]
    assert json.loads(headers[b"settings"][0]) == {"symbols_enabled": ["CLAM_VIRUS", "CLAM_VIRUS_FAIL"]}


@pytest.mark.parametrize(("keep_alive", "connections"), [(True, 1), (False, 3)])
def test_a_connection_rspamd_keeps_open_is_used_again(keep_alive: bool, connections: int) -> None:
    server = _Rspamd(keep_alive=keep_alive)

    async def test(port: int) -> None:
        client = RspamdClient("127.0.0.1", port, 5)
        try:
            for _ in range(3):
                assert (await client.check(b"Subject: x\r\n\r\nbody\r\n", REQUEST)).score == 1.2
        finally:
            await client.aclose()

    _serve(server, test)
    assert len(server.requests) == 3 and server.connections == connections


def _answering(reply: bytes | int, seen: list[list[tuple[bytes, bytes]]] | None = None) -> Send:
    """rspamd as a function: `reply` (a JSON body, or an HTTP status with no body)."""
    async def send(body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        if seen is not None:
            seen.append(headers)
        return (reply, b"") if isinstance(reply, int) else (200, reply)
    return send


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    return next((v.decode() for n, v in headers if n == name), None)


# ---- relay/protection.py on rspamd's answers ----------------------------------------------

class Policies:
    def __init__(self, policies: dict[str, SpamPolicy] | None = None, rules: tuple[SenderRule, ...] = ()) -> None:
        self.policies = policies or {}
        self.rules = rules
        self.reads = 0
        self.rule_reads = 0
        self.recorded: list[tuple[str, str, int]] = []

    def policy_of(self, domain: str) -> SpamPolicy:
        self.reads += 1
        return self.policies.get(domain, SpamPolicy())

    def rules_for(self, domain: str, address: str) -> tuple[SenderRule, ...]:
        self.rule_reads += 1
        return tuple(r for r in self.rules if r.owner in (domain, address))

    def rule_owners(self, domain: str) -> frozenset[str]:
        return frozenset(r.owner for r in self.rules if r.owner == domain or r.owner.endswith("@" + domain))

    def record(self, domain: str, outcome: str, count: int = 1) -> None:
        self.recorded.append((domain, outcome, count))


class Keeper:
    def __init__(self) -> None:
        self.kept: list[tuple[Envelope, bytes, Scan, str, int]] = []

    def keep(self, envelope: Envelope, message: bytes, scan: Scan, domain: str, days: int,
             scopes: Mapping[str, str] | None = None) -> str:
        self.kept.append((envelope, message, scan, domain, days))
        return "held-1"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(data_dir=tmp_path, environ={}).replace(relay_lookup_cache_ttl=60, **overrides)


def _protection(tmp_path: Path, reply: bytes | int, policies: Policies | None = None,
                keeper: Keeper | None = None, **settings: object) -> Protection:
    client = RspamdClient("127.0.0.1", 1, 5, send=_answering(reply))
    return Protection(_settings(tmp_path, **settings), client, policies or Policies(), keeper)


def _reply(action: str, score: float, symbols: dict[str, float] | None = None,
           options: dict[str, list[str]] | None = None, message: str = "") -> bytes:
    return json.dumps({"action": action, "score": score, "messages": {"smtp_message": message} if message else {},
                       "symbols": {n: {"name": n, "score": s, "options": (options or {}).get(n, [])}
                                   for n, s in (symbols or {}).items()}}).encode()


@pytest.mark.parametrize(("reply", "code", "text", "counted"), [
    (_reply("reject", 15.0, {"GTUBE": 0.0}, message="Gtube pattern"), 550, "5.7.1 Message rejected as spam: Gtube",
     {"reject"}),
    (_reply("reject", 15.0, {"CLAM_VIRUS": 0.0}, {"CLAM_VIRUS": ["Eicar-Signature"]}), 554, "(Eicar-Signature)",
     {"virus"}),
    (_reply("no action", 3.0, {"DMARC_POLICY_REJECT": 2.0}, {"DMARC_POLICY_REJECT": ["bank.example"]}), 550,
     "DMARC", {"dmarc_reject"}),
    (_reply("soft reject", 0.0, {"GREYLIST": 0.0}, {"GREYLIST": ["greylisted", "Fri"]}), 451, "Greylisted",
     {"greylist"}),
    (_reply("soft reject", 0.0, {"RATELIMIT": 0.0}), 451, "could not be scanned", {"tempfail"}),
    (_reply("no action", 20.0), 550, "rejected as spam", {"reject"}),
    (_reply("no action", 0.0, {"CLAM_VIRUS_FAIL": 0.0}), 451, "could not be scanned", set()),  # clamd down
    (b"nonsense", 451, "could not be scanned", set()),
    (503, 451, "could not be scanned", set()),
])
def test_refusals(tmp_path: Path, reply: bytes | int, code: int, text: str, counted: set[str]) -> None:
    policies = Policies()
    protection = _protection(tmp_path, reply, policies)
    state = SpamState()

    async def run() -> p.Reply | None:
        assert await protection.at_rcpt(state, "a@example.org", "gov.test", "b@gov.test") is None
        outcome = await protection.inbound(b"Subject: x\r\n\r\nbody\r\n", REQUEST, state)
        await protection.aclose()
        return outcome.reply

    refusal = asyncio.run(run())
    assert refusal is not None and refusal.code == code and text in str(refusal)
    assert {o for _, o, _ in policies.recorded} == counted


def test_outcomes_are_counted_per_recipient_domain(tmp_path: Path) -> None:
    policies = Policies()
    protection = _protection(tmp_path, _reply("reject", 15.0, {"GTUBE": 0.0}), policies)
    state = SpamState()

    async def run() -> None:
        await protection.at_rcpt(state, "a@example.org", "gov.test", "b@gov.test")
        await protection.at_rcpt(state, "a@example.org", "other.test", "c@other.test")
        await protection.at_rcpt(state, "a@example.org", "gov.test", "d@gov.test")
        await protection.inbound(b"Subject: x\r\n\r\nbody\r\n", REQUEST, state)
        await protection.aclose()

    asyncio.run(run())
    assert sorted(policies.recorded) == [("gov.test", "reject", 1), ("other.test", "reject", 1)]


def test_junk_and_deliver_headers(tmp_path: Path) -> None:
    state = SpamState()

    async def run(score: float) -> bytes:
        protection = _protection(tmp_path, _reply("no action", score, {"BAD": score}))
        await protection.at_rcpt(state, "a@example.org", "gov.test", "b@gov.test")
        outcome = await protection.inbound(b"Subject: x\r\n\r\nbody\r\n", REQUEST, state)
        await protection.aclose()
        assert outcome.reply is None and not outcome.keep
        return outcome.headers

    assert asyncio.run(run(7.0)) == b"X-Spam: Yes\r\nX-Spam-Score: 7.00\r\nX-Spam-Symbols: BAD(7.00)\r\n"
    assert asyncio.run(run(1.0)) == b"X-Spam: No\r\nX-Spam-Score: 1.00\r\n"


def test_quarantine_keeps_with_the_domains_days(tmp_path: Path) -> None:
    keeper, policies = Keeper(), Policies({"gov.test": SpamPolicy(quarantine_days=7)})
    protection = _protection(tmp_path, _reply("no action", 11.0), policies, keeper)
    state = SpamState()

    async def run() -> str:
        await protection.at_rcpt(state, "a@example.org", "gov.test", "b@gov.test")
        outcome = await protection.inbound(b"Subject: x\r\n\r\nbody\r\n", REQUEST, state)
        assert outcome.keep and outcome.scan is not None and outcome.headers.startswith(b"X-Spam: Yes")
        envelope = Envelope("Q1", "a@example.org", (), 0.0)
        held = await protection.keep(envelope, b"the message", outcome.scan, state)
        await protection.aclose()
        return held

    assert asyncio.run(run()) == "held-1"
    assert [(k[1], k[3], k[4]) for k in keeper.kept] == [(b"the message", "gov.test", 7)]
    assert policies.recorded == [("gov.test", "quarantine", 1)]


def test_without_a_quarantine_it_is_filed_as_junk(tmp_path: Path) -> None:
    protection = _protection(tmp_path, _reply("no action", 11.0), keeper=None)

    async def run() -> bytes:
        outcome = await protection.inbound(b"Subject: x\r\n\r\nbody\r\n", REQUEST, SpamState())
        await protection.aclose()
        assert not outcome.keep and outcome.reply is None
        return outcome.headers

    assert asyncio.run(run()).startswith(b"X-Spam: Yes")


def test_rspamd_unavailable_in_accept_mode_marks_unscanned(tmp_path: Path) -> None:
    protection = _protection(tmp_path, 503, rspamd_unavailable="accept")

    async def run() -> tuple[bytes, p.Reply | None, p.Reply | None]:
        outcome = await protection.inbound(b"Subject: x\r\n\r\nbody\r\n", REQUEST, SpamState())
        submitted = await protection.submission(b"Subject: x\r\n\r\nbody\r\n", REQUEST)
        await protection.aclose()
        return outcome.headers, outcome.reply, submitted

    assert asyncio.run(run()) == (b"X-Spam-Status: unscanned\r\n", None, None)


def test_block_list_and_one_policy_per_transaction(tmp_path: Path) -> None:
    rules = (SenderRule("b@gov.test", ListKind.BLOCK, "example.org"),
             SenderRule("gov.test", ListKind.ALLOW, "friend.example"))
    policies = Policies({"strict.test": SpamPolicy(junk=3.0)}, rules)
    protection = _protection(tmp_path, CLEAN, policies)

    async def run() -> None:
        state = SpamState()
        blocked = await protection.at_rcpt(state, "a@example.org", "gov.test", "b@gov.test")
        assert blocked is not None and (blocked.code, blocked.status) == (550, "5.7.1")
        assert "a@example.org" in blocked.text
        assert state.key is None  # a refused recipient sets nothing
        assert await protection.at_rcpt(state, "a@example.org", "gov.test", "c@gov.test") is None
        assert state.key == PolicyKey(SpamPolicy(), False)
        other = await protection.at_rcpt(state, "a@example.org", "strict.test", "d@strict.test")
        assert other is not None and (other.code, other.status) == (452, "4.5.3")
        assert await protection.at_rcpt(state, "a@example.org", "same.test", "e@same.test") is None
        assert state.domains == ["gov.test", "same.test"]
        friend = SpamState()
        await protection.at_rcpt(friend, "x@friend.example", "gov.test", "c@gov.test")
        assert friend.key == PolicyKey(SpamPolicy(), True)
        await protection.aclose()

    asyncio.run(run())
    assert ("gov.test", "blocked", 1) in policies.recorded


def test_policies_are_read_once_within_the_ttl(tmp_path: Path) -> None:
    policies = Policies()
    cache = PolicyCache(policies, 60)
    for _ in range(5):
        cache.lookup("gov.test", "b@gov.test")
    assert policies.reads == 1
    cache.clear()
    cache.lookup("gov.test", "b@gov.test")
    assert policies.reads == 2


def test_recipients_without_rules_of_their_own_share_their_domains_rules(tmp_path: Path) -> None:
    mine = SenderRule("c@gov.test", ListKind.BLOCK, "spam.example")
    domain = SenderRule("gov.test", ListKind.ALLOW, "partner.example")
    policies = Policies(rules=(mine, domain))
    cache = PolicyCache(policies, 60)
    for n in range(20):  # twenty new recipients: the domain's rules, read once
        assert cache.lookup("gov.test", f"new{n}@gov.test")[1] == (domain,)
    assert policies.rule_reads == 1
    assert set(cache.lookup("gov.test", "c@gov.test")[1]) == {mine, domain}
    assert policies.rule_reads == 2


def test_submission_refuses_a_virus_only(tmp_path: Path) -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def run(reply: bytes) -> p.Reply | None:
        client = RspamdClient("127.0.0.1", 1, 5, send=_answering(reply, seen))
        protection = Protection(_settings(tmp_path), client, Policies(), None)
        try:
            return await protection.submission(b"Subject: x\r\n\r\nbody\r\n", REQUEST)
        finally:
            await protection.aclose()

    assert asyncio.run(run(GTUBE)) is None  # GTUBE (a pre-filter rspamd runs anyway) is not a virus
    virus = asyncio.run(run(_reply("reject", 0.0, {"CLAM_VIRUS": 0.0}, {"CLAM_VIRUS": ["Eicar-Test"]})))
    assert virus is not None and (virus.code, virus.status) == (554, "5.7.1")
    assert seen and all(json.loads(_header(h, b"Settings") or "null") == VIRUS_ONLY for h in seen)


def test_the_tally_writes_in_batches_and_survives_a_store_error(tmp_path: Path) -> None:
    from mailgothai.errors import StoreError

    class Failing(Policies):
        def record(self, domain: str, outcome: str, count: int = 1) -> None:
            if domain == "down.test":
                raise StoreError("SQL store: gone")
            super().record(domain, outcome, count)

    store = Failing()
    tally = Tally(store, every=0.01)

    async def run() -> None:
        tally.add(["a.test", "a.test", "down.test"], "junk")
        tally.add(["a.test"], "junk")
        tally.add(["a.test"], "reject")
        while tally._flushing is not None and not tally._flushing.done():
            await asyncio.sleep(0.01)

    asyncio.run(run())
    assert sorted(store.recorded) == [("a.test", "junk", 2), ("a.test", "reject", 1)]


def test_rspamds_greylisting_runs_only_for_a_domain_that_wants_it(tmp_path: Path) -> None:
    sent: list[list[tuple[bytes, bytes]]] = []
    policies = Policies({"off.test": SpamPolicy(greylisting=False), "on.test": SpamPolicy(greylisting=True)})
    client = RspamdClient("127.0.0.1", 1, 5, send=_answering(CLEAN, sent))
    protection = Protection(_settings(tmp_path), client, policies, None)

    async def run() -> None:
        for domain in ("off.test", "on.test"):
            state = SpamState()
            await protection.at_rcpt(state, "a@example.org", domain, f"b@{domain}")
            await protection.inbound(b"Subject: x\r\n\r\nbody\r\n", REQUEST, state)
        await protection.aclose()

    asyncio.run(run())
    seen = [_header(h, b"Settings") for h in sent]
    assert seen[0] is not None and json.loads(seen[0]) == NO_GREYLISTING
    assert seen[1] is None


def test_the_tally_writes_what_waits_when_the_relay_stops(tmp_path: Path) -> None:
    store = Policies()
    tally = Tally(store, every=3600)

    async def run() -> None:
        tally.add(["a.test"], "junk")
        await tally.aclose()

    asyncio.run(run())
    assert store.recorded == [("a.test", "junk", 1)]
