"""Delivery to other mail systems: the configured smarthost, or the recipient domain's
MX hosts (dnspython), over SMTP with aiosmtplib (STARTTLS when offered)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from aiosmtplib.typing import Default

from mailgothai.core.dkim import to_crlf
from mailgothai.settings import dns_servers


@dataclass(frozen=True)
class RemoteReply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


class Resolver:
    """DNS as the settings say: "system", "off" (every lookup fails at once), or a
    comma-separated list of resolver addresses."""

    def __init__(self, mode: str, timeout: float) -> None:
        self.mode = mode.strip() or "off"
        self._resolver: dns.asyncresolver.Resolver | None = None
        if self.mode != "off":
            configure = self.mode == "system"
            self._resolver = dns.asyncresolver.Resolver(configure=configure)
            if not configure:
                self._resolver.nameservers = nameservers(self.mode)
            self._resolver.lifetime = timeout
            self._resolver.timeout = timeout

    @property
    def enabled(self) -> bool:
        return self._resolver is not None

    async def mx_hosts(self, domain: str) -> list[str]:
        """MX hosts by preference, or the domain itself (RFC 5321 5.1). Raises
        `DnsUnavailable` on a lookup that could not be made, `NoSuchDomain` on NXDOMAIN."""
        if self._resolver is None:
            raise DnsUnavailable("DNS lookups are disabled (relay_dns = off)")
        try:
            answer = await self._resolver.resolve(domain, "MX")
        except dns.resolver.NXDOMAIN as exc:
            raise NoSuchDomain(domain) from exc
        except dns.resolver.NoAnswer:
            return [domain]
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(f"MX lookup for {domain} failed: {exc}") from exc
        records = sorted(answer, key=lambda r: r.preference)
        hosts = [str(r.exchange).rstrip(".") for r in records]
        if hosts == [""]:
            raise NoSuchDomain(f"{domain} accepts no mail (null MX)")
        return hosts

    async def txt(self, name: str) -> list[bytes]:
        if self._resolver is None:
            raise DnsUnavailable("DNS lookups are disabled (relay_dns = off)")
        try:
            answer = await self._resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(f"TXT lookup for {name} failed: {exc}") from exc
        return [b"".join(r.strings) for r in answer]


def nameservers(mode: str) -> list[str | dns.nameserver.Nameserver]:
    """relay_dns's resolvers (settings.dns_servers: "IP" or "IP:PORT", comma-separated) for dnspython."""
    return [dns.nameserver.Do53Nameserver(ip, port) for ip, port in dns_servers(mode)]


class DnsUnavailable(Exception):
    pass


class NoSuchDomain(Exception):
    pass


def _parse_hostport(text: str, default_port: int = 25) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    return host.strip("[]"), int(port)


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's client, noting when the DATA command went out: from then on the
    destination may have (or may yet) accept the message, whatever reaches us."""

    data_sent = False

    async def data(self, message: str | bytes, /, *,
                   timeout: float | Literal[Default.token] | None = Default.token) -> aiosmtplib.SMTPResponse:
        self.data_sent = True
        return await super().data(message, timeout=timeout)


class RemoteSender:
    def __init__(self, smarthost: str, resolver: Resolver, hostname: str, timeout: float = 60.0) -> None:
        self._smarthost = _parse_hostport(smarthost) if smarthost else None
        self._resolver = resolver
        self._hostname = hostname
        self._timeout = timeout

    async def deliver(self, sender: str, recipients: list[str], message: bytes) -> dict[str, RemoteReply]:
        """One reply per recipient; all recipients share one domain (or the smarthost)."""
        domain = recipients[0].rpartition("@")[2]
        try:
            hosts = [self._smarthost] if self._smarthost else [(h, 25) for h in await self._resolver.mx_hosts(domain)]
        except NoSuchDomain as exc:
            return {r: RemoteReply(550, f"5.1.2 {exc}") for r in recipients}
        except DnsUnavailable as exc:
            return {r: RemoteReply(451, f"4.4.3 {exc}") for r in recipients}
        last: dict[str, RemoteReply] = {}
        for host, port in hosts:
            last = await self._try_host(host, port, sender, recipients, message)
            # the next host only when this one could not be reached or refused the session
            # (421); a connection lost once the data was sent is a 451 (see _try_host)
            if not all(reply.code == 421 or reply.text.startswith("4.4.1") for reply in last.values()):
                return last
        return last

    async def _try_host(self, host: str, port: int, sender: str, recipients: list[str],
                        message: bytes) -> dict[str, RemoteReply]:
        client = _Client(hostname=host, port=port, local_hostname=self._hostname, timeout=self._timeout,
                                 start_tls=None, validate_certs=False)
        try:
            await client.connect()
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            return {r: RemoteReply(421, f"4.4.1 connection to {host}:{port} failed: {exc}") for r in recipients}
        try:
            errors, _ = await client.sendmail(sender, recipients, to_crlf(message))
            return {r: (RemoteReply(errors[r].code, errors[r].message) if r in errors else RemoteReply(250, "2.0.0 OK"))
                    for r in recipients}
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = {e.recipient: RemoteReply(e.code, e.message) for e in exc.recipients}
            return {r: refused.get(r, RemoteReply(451, "4.3.0 not accepted")) for r in recipients}
        except aiosmtplib.SMTPResponseException as exc:
            return {r: RemoteReply(exc.code, exc.message) for r in recipients}
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            if client.data_sent:
                # The host may have taken the message (lost after the final dot, or while
                # waiting for its reply): not sent to the next MX host in this attempt, a
                # temporary failure retried later, as every MTA does (a duplicate stays
                # possible then, if the host did accept it).
                return {r: RemoteReply(451, f"4.4.2 connection to {host}:{port} lost after the data was sent "
                                            f"(it may have been delivered): {exc}") for r in recipients}
            return {r: RemoteReply(421, f"4.4.2 connection to {host}:{port} lost: {exc}") for r in recipients}
        finally:
            try:
                await client.quit()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()
