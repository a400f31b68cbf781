"""relay_dns names resolvers as "IP" or "IP:PORT": the relay's lookups (MX, SPF) go to a
DNS server on a port of its own, as the tests' server on loopback (tests/dnsserver.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import dns.resolver
import pytest

from mailgothai.errors import InvalidInput
from mailgothai.relay.inbound import InboundChecker
from mailgothai.relay.remote import NoSuchDomain, Resolver
from mailgothai.settings import Settings, dns_servers
from tests.dnsserver import DnsServer


@pytest.fixture
def server() -> Iterator[DnsServer]:
    saved = dns.resolver.default_resolver  # InboundChecker points pyspf's at its own
    with DnsServer.running() as running:
        yield running
    dns.resolver.default_resolver = saved


def test_relay_dns_entries() -> None:
    assert dns_servers("192.0.2.53") == (("192.0.2.53", 53),)
    assert dns_servers(" 127.0.0.1:5353, ::1 ,[2001:db8::1]:5300") == \
        (("127.0.0.1", 5353), ("::1", 53), ("2001:db8::1", 5300))
    assert dns_servers("system") == dns_servers("off") == ()
    assert Settings(relay_dns="127.0.0.1:5353").relay_dns_servers == (("127.0.0.1", 5353),)
    for wrong in ("dns.example", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:x", "[::1]x"):
        with pytest.raises(InvalidInput) as refused:
            dns_servers(wrong)
        assert refused.value.field == "relay_dns"


def test_mx_lookups_go_to_the_port_named(server: DnsServer) -> None:
    server.set("remote.example", "MX", "20 backup.remote.example", "10 mx.remote.example")
    resolver = Resolver(server.address, 2)
    assert asyncio.run(resolver.mx_hosts("remote.example")) == ["mx.remote.example", "backup.remote.example"]
    with pytest.raises(NoSuchDomain):
        asyncio.run(resolver.mx_hosts("nowhere.example"))
    assert ("remote.example.", "MX") in server.asked()


# pyspf still calls dnspython's deprecated dns.resolver.query (the warning is an error here)
@pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")
def test_spf_is_looked_up_at_the_port_named(server: DnsServer) -> None:
    server.set("sender.example", "TXT", "v=spf1 ip4:192.0.2.10 -all")

    class NoHostedKeys:
        def published(self, name: str) -> bytes | None:
            return None

    checker = InboundChecker(NoHostedKeys(), server.address, 2)  # type: ignore[arg-type]
    message = b"From: a@sender.example\r\nSubject: x\r\n\r\nhello\r\n"
    assert checker.check(message, "192.0.2.10", "mx.sender.example", "a@sender.example").spf == "pass"
    assert checker.check(message, "198.51.100.1", "mx.sender.example", "a@sender.example").spf == "fail"
