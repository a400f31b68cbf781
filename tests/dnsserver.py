"""A DNS server on loopback for tests (dnslib): answers the A, AAAA, MX, TXT, CNAME and SRV
records a test sets (SPF, DKIM keys, DMARC policies, a domain's other records) and nothing
else, so no lookup leaves the machine.

    with DnsServer.running() as dns:            # UDP and TCP on 127.0.0.1:dns.port
        dns.set("example.org", "TXT", "v=spf1 ip4:192.0.2.10 -all")
        dns.set("_dmarc.example.org", "TXT", "v=DMARC1; p=reject")
        settings.replace(relay_dns=dns.address)  # "127.0.0.1:PORT"

A name no record was set for answers NXDOMAIN; a set name asked another type answers no
records (NOERROR). Records may be set and cleared while the server runs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import dns.rdatatype
import dns.zone
from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, SRV, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from tests.conftest import free_port


def _name(name: str) -> str:
    return name.rstrip(".").lower() + "."


def _txt_chunks(text: str) -> list[bytes]:
    """A TXT value longer than 255 bytes (a DKIM key) goes as several strings."""
    data = text.encode()
    return [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]


class _Records(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[str, list[tuple[str, Any]]] = {}
        self.asked: list[tuple[str, str]] = []

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = _name(str(request.q.qname))
        kind = QTYPE[request.q.qtype]
        with self.lock:
            self.asked.append((name, kind))
            found = self.records.get(name)
        if found is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for record_kind, rdata in found:
            if record_kind == kind:
                reply.add_answer(RR(name, getattr(QTYPE, kind), rdata=rdata, ttl=5))
        return reply


class DnsServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self._records = _Records()
        quiet = DNSLogger("-request,-reply,-truncated,-recv,-send,-data")  # errors only
        self._servers = [DNSServer(self._records, port=port, address="127.0.0.1", tcp=tcp, logger=quiet)
                         for tcp in (False, True)]

    @property
    def address(self) -> str:
        """For relay_dns."""
        return f"127.0.0.1:{self.port}"

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[DnsServer]:
        server = cls(free_port())
        for s in server._servers:
            s.start_thread()
        try:
            yield server
        finally:
            for s in server._servers:
                s.stop()
                s.server.server_close()

    def set(self, name: str, kind: str, *values: str) -> None:
        """Replace `name`'s records of `kind` (A, AAAA, MX "PREFERENCE HOST", TXT, CNAME "HOST",
        SRV "PRIORITY WEIGHT PORT HOST") with `values`. A CNAME is answered to its own type only."""
        rdata: list[Any] = []
        for value in values:
            if kind == "A":
                rdata.append(A(value))
            elif kind == "MX":
                preference, host = value.split()
                rdata.append(MX(_name(host), int(preference)))
            elif kind == "TXT":
                rdata.append(TXT(_txt_chunks(value)))
            elif kind == "AAAA":
                rdata.append(AAAA(value))
            elif kind == "CNAME":
                rdata.append(CNAME(_name(value)))
            elif kind == "SRV":
                priority, weight, port, host = value.split()
                rdata.append(SRV(int(priority), int(weight), int(port), _name(host)))
            else:
                raise ValueError(f"record type not served: {kind}")
        with self._records.lock:
            kept = [r for r in self._records.records.get(_name(name), []) if r[0] != kind]
            self._records.records[_name(name)] = kept + [(kind, r) for r in rdata]

    def publish_zone(self, text: str, origin: str) -> None:
        """Serve every record of a zone file (`mailgothai dns show --zone`) as it is."""
        zone = dns.zone.from_text(text, origin=origin.rstrip(".") + ".", check_origin=False)
        grouped: dict[tuple[str, str], list[str]] = {}
        for name, _ttl, rdata in zone.iterate_rdatas():
            kind = dns.rdatatype.to_text(rdata.rdtype)
            value = b"".join(rdata.strings).decode() if kind == "TXT" else rdata.to_text()
            grouped.setdefault((name.derelativize(zone.origin).to_text(), kind), []).append(value)
        for (name, kind), values in grouped.items():
            self.set(name, kind, *values)

    def clear(self, name: str) -> None:
        with self._records.lock:
            self._records.records.pop(_name(name), None)

    def asked(self) -> list[tuple[str, str]]:
        """(name, type) of every question so far."""
        with self._records.lock:
            return list(self._records.asked)
