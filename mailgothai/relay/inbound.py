"""Checks on mail that arrives without AUTH: its DKIM signatures (dkimpy, keys of hosted
domains from the key table, others from DNS) and SPF (pyspf, only when DNS is on),
written into one Authentication-Results header (RFC 8601)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import dkim
import dns.exception
import dns.resolver

from mailgothai.core import dkim as canon
from mailgothai.dkim.table import KeyTable
from mailgothai.relay.remote import nameservers

log = logging.getLogger("mailgothai.relay")
_TAG = re.compile(rb"(?:^|;)\s*([a-z]+)\s*=\s*([^;]*)", re.I)


@dataclass(frozen=True)
class DkimResult:
    domain: str
    selector: str
    result: str  # pass | fail | temperror | permerror


@dataclass(frozen=True)
class InboundVerdict:
    dkim: tuple[DkimResult, ...]
    spf: str

    def passed_domains(self) -> frozenset[str]:
        return frozenset(r.domain for r in self.dkim if r.result == "pass")

    def header(self, authserv_id: str, mail_from: str) -> bytes:
        parts = [f"dkim={r.result} header.d={r.domain} header.s={r.selector}" for r in self.dkim] or ["dkim=none"]
        domain = mail_from.rpartition("@")[2] if mail_from else ""
        parts.append(f"spf={self.spf} smtp.mailfrom={mail_from or '<>'}" if domain else f"spf={self.spf}")
        return ("Authentication-Results: " + authserv_id + ";\r\n\t" + ";\r\n\t".join(parts) + "\r\n").encode()


def _tags(raw_field: bytes) -> dict[bytes, bytes]:
    value = raw_field.split(b":", 1)[1]
    value = re.sub(rb"\s+", b"", value)
    return {m.group(1).lower(): m.group(2) for m in _TAG.finditer(value)}


class InboundChecker:
    def __init__(self, keys: KeyTable, dns_mode: str, dns_timeout: float) -> None:
        self._keys = keys
        self._dns_mode = dns_mode.strip() or "off"
        self._timeout = dns_timeout
        self._resolver: dns.resolver.Resolver | None = None
        if self._dns_mode != "off":
            configure = self._dns_mode == "system"
            self._resolver = dns.resolver.Resolver(configure=configure)
            if not configure:
                self._resolver.nameservers = nameservers(self._dns_mode)
                dns.resolver.default_resolver = self._resolver  # pyspf asks dnspython's default
            self._resolver.lifetime = self._resolver.timeout = dns_timeout

    def _txt(self, name: bytes, timeout: int = 5) -> bytes | None:
        text = name.decode("ascii", "replace").rstrip(".")
        own = self._keys.published(text)
        if own is not None:
            return own
        if self._resolver is None:
            raise _DnsOff()
        try:
            answer = self._resolver.resolve(text, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.DNSException as exc:
            raise _DnsOff() from exc
        return b"".join(b"".join(r.strings) for r in answer)

    def check(self, message: bytes, client_ip: str, helo: str, mail_from: str,
              parsed: canon.ParsedMessage | None = None, spf: bool = True) -> InboundVerdict:
        """Blocking (dkimpy, DNS): call from a worker thread. `parsed`: the message's
        `canon.parse`, if the caller has it already. `spf` False: no SPF check (rspamd
        makes it), the verdict's spf "none"."""
        parsed = parsed or canon.parse(message)
        signatures = [raw for name, raw in parsed.headers if name == b"dkim-signature"]
        results = []
        for index, raw in enumerate(signatures[:5]):
            tags = _tags(raw)
            domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
            selector = tags.get(b"s", b"").decode("ascii", "replace").lower()
            results.append(DkimResult(domain, selector, self._verify(message, index)))
        return InboundVerdict(tuple(results), self.spf(client_ip, helo, mail_from) if spf else "none")

    def _verify(self, message: bytes, index: int) -> str:
        try:
            ok = dkim.DKIM(message).verify(idx=index, dnsfunc=self._txt)
        except _DnsOff:
            return "temperror"
        except dkim.ValidationError as exc:
            # a signature that does not match the message fails; one that cannot be read is an error
            return "fail" if "mismatch" in str(exc) else "permerror"
        except dkim.DKIMException:
            return "permerror"
        except Exception as exc:  # noqa: BLE001 - dkimpy's parser fails on some messages (IndexError on a
            # first header line that starts with a blank): a signature that cannot be checked is
            # an error, and the message is judged as unsigned, never refused with a 500
            log.info("DKIM check failed (%s: %s): permerror", type(exc).__name__, exc)
            return "permerror"
        return "pass" if ok else "fail"

    def spf(self, client_ip: str, helo: str, mail_from: str) -> str:
        """pyspf's result for the envelope sender (blocking: DNS)."""
        if self._resolver is None:
            return "temperror"  # relay_dns = off: nothing can be looked up
        import spf  # pyspf, on dnspython

        try:
            result, _ = spf.check2(i=client_ip, s=mail_from or f"postmaster@{helo}", h=helo or "unknown",
                                   timeout=self._timeout)
        except Exception as exc:  # pyspf raises its own and DNS errors alike
            log.info("SPF check failed: %s", exc)
            return "temperror"
        return str(result)


class _DnsOff(Exception):
    """A key lookup that could not be made."""
