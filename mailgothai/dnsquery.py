"""Asking DNS (dnspython's asynchronous resolver) for the domain checker
(services/dns_check.py): each answer as core/dns_records.Answer — the records' values,
NXDOMAIN, or why no answer could be had. Nothing raises: a timeout, a SERVFAIL or a
malformed answer is an Answer with `failed` set ("could not ask").

The resolver is the settings' `dns_check_resolver`: "system" (resolv.conf) or resolver
addresses "IP", "IP:PORT", "[IPv6]:PORT", comma-separated (the relay_dns syntax).
"""

from __future__ import annotations

import asyncio

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mailgothai.core.dns_records import Answer
from mailgothai.settings import dns_servers


def _value(rdata: object, rdtype: str) -> str:
    """A record's value in core/dns_records.Record.value's form."""
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
    if rdtype == "MX":
        return f"{rdata.preference} {str(rdata.exchange).rstrip('.').lower()}"  # type: ignore[attr-defined]
    if rdtype == "CNAME":
        return str(rdata.target).rstrip(".").lower()  # type: ignore[attr-defined]
    if rdtype == "SRV":
        r = rdata
        return f"{r.priority} {r.weight} {r.port} {str(r.target).rstrip('.').lower()}"  # type: ignore[attr-defined]
    return str(rdata)


class DnsAsker:
    """One resolver for one run of checks; the same question asked twice in a run is
    asked once (the web host's addresses, for every domain)."""

    def __init__(self, resolver: str, timeout: float) -> None:
        mode = resolver.strip() or "system"
        self._unusable = ""
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=mode == "system")
        except (dns.exception.DNSException, OSError) as exc:  # no resolv.conf, or nothing in it
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._unusable = f"no system resolver: {exc}"
        if mode != "system":
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in dns_servers(mode)]
        # a lost UDP datagram is asked again (up to three tries) within the question's time
        self._resolver.timeout = max(0.5, timeout / 3)
        self._resolver.lifetime = timeout
        self._asked: dict[tuple[str, str], asyncio.Task[Answer]] = {}

    async def ask(self, name: str, rdtype: str) -> Answer:
        key = (name.lower(), rdtype)
        if key not in self._asked:
            self._asked[key] = asyncio.ensure_future(self._ask(*key))
        return await self._asked[key]

    async def _ask(self, name: str, rdtype: str) -> Answer:
        if self._unusable:
            return Answer(failed=self._unusable)
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer(exists=False)
        except dns.resolver.NoAnswer:
            return Answer()
        except dns.exception.Timeout:
            return Answer(failed=f"no answer for {name} {rdtype} within {self._resolver.lifetime:g} s")
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return Answer(failed=f"{name} {rdtype}: {exc.__class__.__name__}: {exc}")
        if answer.rrset is None:
            return Answer()
        # a CNAME question is answered by the CNAME itself; for others the resolver followed it
        return Answer(tuple(_value(r, rdtype) for r in answer.rrset if dns.rdatatype.to_text(r.rdtype) == rdtype))
