"""The DNS check's adapter (dnsquery.py) against a DNS server on loopback: each answer in
the form core/dns_records.py compares (a TXT record's strings joined, host names without
the final dot), NXDOMAIN apart from a name with no record of the type, and every failure
an answer saying why, never an exception: a server that never answers, no resolver
configured on the machine."""

from __future__ import annotations

import asyncio
import socket
from unittest import mock

import dns.asyncresolver
import dns.resolver

from mailgothai.core.dns_records import Answer
from mailgothai.dnsquery import DnsAsker
from tests.dnsserver import DnsServer

LONG = "v=DKIM1; k=rsa; p=" + "A" * 400


def ask_all(asker: DnsAsker, *questions: tuple[str, str]) -> list[Answer]:
    async def run() -> list[Answer]:
        return list(await asyncio.gather(*(asker.ask(n, t) for n, t in questions)))
    return asyncio.run(run())


def test_answers_in_the_form_the_core_compares() -> None:
    with DnsServer.running() as server:
        server.set("moph.go.th", "MX", "10 MX1.Mailgothai.go.th", "20 mx2.mailgothai.go.th")
        server.set("moph.go.th", "TXT", "v=spf1 mx -all")
        server.set("s1._domainkey.moph.go.th", "TXT", LONG)
        server.set("mta-sts.moph.go.th", "CNAME", "admin.mailgothai.go.th")
        server.set("_imaps._tcp.moph.go.th", "SRV", "0 1 993 mail.mailgothai.go.th")
        mx, txt, dkim, cname, srv, nxdomain, nodata = ask_all(
            DnsAsker(server.address, 2), ("moph.go.th", "MX"), ("moph.go.th", "TXT"),
            ("s1._domainkey.moph.go.th", "TXT"), ("mta-sts.moph.go.th", "CNAME"), ("_imaps._tcp.moph.go.th", "SRV"),
            ("_dmarc.moph.go.th", "TXT"), ("moph.go.th", "SRV"))
    assert sorted(mx.values) == ["10 mx1.mailgothai.go.th", "20 mx2.mailgothai.go.th"]
    assert txt == Answer(("v=spf1 mx -all",))
    assert dkim == Answer((LONG,))  # two strings on the wire, one value
    assert cname == Answer(("admin.mailgothai.go.th",))
    assert srv == Answer(("0 1 993 mail.mailgothai.go.th",))
    assert nxdomain == Answer(exists=False)
    assert nodata == Answer()


def test_a_server_that_never_answers_is_a_failure_with_its_reason() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        [answer] = ask_all(DnsAsker(f"127.0.0.1:{silent.getsockname()[1]}", 1), ("moph.go.th", "MX"))
    assert answer.values == () and answer.failed == "no answer for moph.go.th MX within 1 s"


def test_no_resolver_on_the_machine_is_a_failure_too() -> None:
    with mock.patch.object(dns.asyncresolver.Resolver, "read_resolv_conf",
                           side_effect=dns.resolver.NoResolverConfiguration("no nameservers")):
        asker = DnsAsker("system", 1)
    [answer] = ask_all(asker, ("moph.go.th", "MX"))
    assert answer.failed.startswith("no system resolver")
