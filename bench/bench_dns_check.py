"""`dns check --all` over the full data set's 434 domains (issue 19), against a DNS server on
loopback (tests/dnsserver.py, dnslib) holding every domain's records as `dns show --zone`
gives them, one domain in ten with a wrong DMARC policy.

Measured: the checker (core/dns_records.questions + dnsquery.DnsAsker + judging, as
services/dns_check.check_all runs it, 16 domains at a time) against the raw component in
the same run: dnspython's async resolver asking the same questions with the same bound and
nothing else. The ratio is the checker's cost over asking; both are bound by the loopback
server (one Python thread). No stack: the DKIM keys are one made-up key a domain.

    .venv/bin/python -m bench.bench_dns_check [--domains bench/data/full/domains.csv] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import time
from pathlib import Path

import dns.asyncresolver
import dns.nameserver

from mailgothai.core.dns_records import State, publishing, questions, records
from mailgothai.dnsquery import DnsAsker
from mailgothai.services.dns_check import DomainRecords, _check
from tests.dnsserver import DnsServer

KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9
PUB = publishing(mx_hosts=["mx1.mailgothai.go.th", "mx2.mailgothai.go.th"], mail_host="mail.mailgothai.go.th",
                 web_host="admin.mailgothai.go.th", spf_mechanisms=["mx"], dmarc_policy="quarantine",
                 dmarc_reports="dmarc@mailgothai.go.th", tlsrpt_reports="", mta_sts_mode="testing",
                 mta_sts_max_age=604800, imaps_port=993, submissions_port=465, submission_port=587)


def publish(server: DnsServer, item: DomainRecords, wrong: bool) -> None:
    grouped: dict[tuple[str, str], list[str]] = {}
    for r in item.records:
        value = r.value
        if wrong and r.purpose.value == "dmarc":
            value = "v=DMARC1; p=none"
        grouped.setdefault((r.name, r.type), []).append(value)
    for (name, kind), values in grouped.items():
        server.set(name, kind, *values)


async def raw(server: DnsServer, asked: list[tuple[str, str]], bound: int) -> None:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", server.port)]
    resolver.lifetime = 5
    gate = asyncio.Semaphore(bound * 16)  # the checker asks a domain's ~16 questions together

    async def one(name: str, kind: str) -> None:
        async with gate:
            try:
                await resolver.resolve(name, kind, search=False)
            except dns.exception.DNSException:
                pass

    await asyncio.gather(*(one(n, k) for n, k in asked))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", default="bench/data/full/domains.csv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bound", type=int, default=16)
    args = parser.parse_args()
    with Path(args.domains).open(encoding="utf-8") as fh:
        names = [row["domain"] for row in csv.DictReader(fh)]
    items = [DomainRecords(n, tuple(records(n, PUB, [("s1", KEY)]))) for n in names]
    asked = [q for item in items for q in questions(item.records, PUB)]
    with DnsServer.running() as server:
        for n, item in enumerate(items):
            publish(server, item, wrong=n % 10 == 0)
        checker, asking = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            asyncio.run(raw(server, asked, args.bound))
            asking.append(time.perf_counter() - started)
            started = time.perf_counter()
            results = asyncio.run(_check(items, PUB, DnsAsker(server.address, 5), args.bound))
            checker.append(time.perf_counter() - started)
        bad = sum(1 for r in results if not r.ok)
        unknown = sum(r.count(State.UNKNOWN) for r in results)
    print(f"{len(items)} domains, {len(asked)} questions, bound {args.bound}, {args.rounds} rounds")
    print(f"checker: median {statistics.median(checker):.2f} s ({min(checker):.2f}-{max(checker):.2f}); "
          f"{bad} domains not ok (expected {len(range(0, len(items), 10))}), {unknown} questions not answered")
    print(f"raw dnspython asking the same: median {statistics.median(asking):.2f} s")
    print(f"ratio checker / raw: {statistics.median(checker) / statistics.median(asking):.2f}")


if __name__ == "__main__":
    main()
