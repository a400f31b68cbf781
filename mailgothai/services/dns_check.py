"""A domain's DNS records (what to publish) and the check of what DNS says (issue 19):
the same for the CLI (`mailgothai dns show|check`), the domain's DNS page and the API.

Operators reach every domain, domain admins only their own (others: NotFound, as the
DKIM service does); checking every domain at once is an operator's. The records come
from core/dns_records.py with the operator's choices from the settings and the domain's
DKIM keys not yet retired; a check asks the resolver of `dns_check_resolver`
(dnsquery.py) every question of every domain concurrently — at most `bound` domains at
a time, each domain's questions together — and judges the answers. Nothing is written
and nothing audited: a check only reads.

The MTA-STS policy (`mta_sts_policy_for`) is public: it answers for the host name
mta-sts.DOMAIN of a hosted, active domain, with no actor.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.dkim import split_txt
from mailgothai.core.dns_records import (
    Finding,
    Publishing,
    Record,
    State,
    judge,
    mta_sts_policy,
    publishing,
    questions,
    records,
    zone_text,
)
from mailgothai.core.models import Status
from mailgothai.core.reasons import Why
from mailgothai.dnsquery import DnsAsker
from mailgothai.errors import InvalidInput
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service
from mailgothai.settings import Settings, dns_servers
from mailgothai.store.relay_state import DkimKey, DkimKeyRecords, KeyState

BOUND = 16  # domains checked at once by check_all


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def publishing_of(settings: Settings) -> Publishing:
    """The operator's choices, validated (an error names the setting to change)."""
    s = settings
    mx_hosts = s.mx_hosts or (s.relay_hostname,)
    if s.mail_hostname and not _is_address(s.mail_hostname):
        mail_from, mail_host = "mail_hostname", s.mail_hostname
    else:  # the first MX host runs the relay, and Dovecot beside it
        mail_from, mail_host = ("mx_hosts" if s.mx_hosts else "relay_hostname"), mx_hosts[0]
    return publishing(
        mx_hosts=mx_hosts, mail_host=mail_host, web_host=s.web_hostname or mail_host,
        spf_mechanisms=s.spf_mechanisms, dmarc_policy=s.dmarc_policy, dmarc_reports=s.dmarc_report_address,
        tlsrpt_reports=s.tlsrpt_address or s.dmarc_report_address, mta_sts_mode=s.mta_sts_mode,
        mta_sts_max_age=s.mta_sts_max_age, imaps_port=s.imaps_port, submissions_port=s.smtps_port,
        submission_port=s.submission_port,
        fields={"mx_hosts": "mx_hosts" if s.mx_hosts else "relay_hostname", "mail_host": mail_from,
                "web_host": "web_hostname" if s.web_hostname else mail_from,
                "dmarc_reports": "dmarc_report_address",
                "tlsrpt_reports": "tlsrpt_address" if s.tlsrpt_address else "dmarc_report_address"})


@dataclass(frozen=True)
class DomainRecords:
    domain: str
    records: tuple[Record, ...]
    mta_sts_policy: str = ""  # what the web serves at https://mta-sts.DOMAIN/.well-known/mta-sts.txt

    @property
    def zone(self) -> str:
        return zone_text(self.domain, self.records)

    def as_data(self) -> dict[str, Any]:
        """For JSON (the CLI's --json, the API)."""
        return {"domain": self.domain, "zone": self.zone, "mta_sts_policy": self.mta_sts_policy,
                "records": [{"purpose": r.purpose.value, "name": r.name, "type": r.type, "value": r.value,
                             "zone_line": r.zone_line, "elsewhere": r.elsewhere,
                             **({"strings": split_txt(r.value)} if r.type == "TXT" else {})} for r in self.records]}


@dataclass(frozen=True)
class DomainCheck:
    domain: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.state is State.OK for f in self.findings)

    def count(self, state: State) -> int:
        return sum(1 for f in self.findings if f.state is state)

    def as_data(self) -> dict[str, Any]:
        """For JSON (the CLI's --json, the API): each finding's reason in English and its code."""
        return {"domain": self.domain, "ok": self.ok, "findings": [{
            "purpose": f.purpose.value, "name": f.name, "type": f.type, "state": f.state.value,
            "expected": list(f.expected), "found": list(f.found), "elsewhere": f.elsewhere,
            "reason": str(f.reason) if f.reason else None, "code": f.reason.code if f.reason else None}
            for f in self.findings]}


def _dkim_pairs(keys: Sequence[DkimKey]) -> list[tuple[str, str]]:
    return [(k.selector, k.public_record) for k in keys if k.state is not KeyState.RETIRED]


async def _check(items: Sequence[DomainRecords], pub: Publishing, asker: DnsAsker, bound: int) -> list[DomainCheck]:
    gate = asyncio.Semaphore(max(1, bound))

    async def one(item: DomainRecords) -> DomainCheck:
        async with gate:
            asked = questions(item.records, pub)
            answers = await asyncio.gather(*(asker.ask(name, kind) for name, kind in asked))
            return DomainCheck(item.domain, tuple(judge(item.records, dict(zip(asked, answers, strict=True)))))

    return list(await asyncio.gather(*(one(item) for item in items)))


class DnsCheckService(Service):
    def publishing(self) -> Publishing:
        return publishing_of(self.b.settings)

    def _domain(self, name: str) -> str:
        """A hosted domain or alias domain the actor administers (NotFound otherwise)."""
        domain = normalize_domain(name)
        alias = self.b.domains.find_alias(domain)
        if alias is not None:  # an alias domain receives and signs mail as its own name
            self.actor.require_domain(alias.target)
            return domain
        self.actor.require_domain(domain)
        self.b.domains.get(domain)
        return domain

    def records(self, domain: str) -> DomainRecords:
        name = self._domain(domain)
        keys, pub = DkimKeyRecords(self.b.store).for_domain(name), self.publishing()
        return DomainRecords(name, tuple(records(name, pub, _dkim_pairs(keys))), mta_sts_policy(pub))

    def check(self, domain: str, resolver: str | None = None) -> DomainCheck:
        """Ask DNS for the domain's records and judge each: ok, missing, wrong, or unknown
        (could not ask)."""
        item = self.records(domain)
        return self._run([item], resolver, 1)[0]

    def check_all(self, resolver: str | None = None, bound: int = BOUND) -> list[DomainCheck]:
        """Every hosted domain and alias domain, by name (operators only)."""
        self.actor.require_superadmin()
        if bound < 1:
            raise InvalidInput("parallel", Why.NOT_ABOVE_ZERO())
        pub = self.publishing()
        by_domain: dict[str, list[DkimKey]] = {}
        for key in DkimKeyRecords(self.b.store).all_live():
            by_domain.setdefault(key.domain, []).append(key)
        names = sorted({*(d.name for d in self.b.domains.iter_all()), *(a.name for a in self.b.domains.aliases_of())})
        items = [DomainRecords(n, tuple(records(n, pub, _dkim_pairs(by_domain.get(n, []))))) for n in names]
        return self._run(items, resolver, bound)

    def _run(self, items: Sequence[DomainRecords], resolver: str | None, bound: int) -> list[DomainCheck]:
        settings = self.b.settings
        where = (settings.dns_check_resolver if resolver is None else resolver).strip() or "system"
        field = "dns_check_resolver" if resolver is None else "resolver"
        if where != "system":
            try:
                servers = dns_servers(where)
            except InvalidInput as exc:
                raise InvalidInput(field, exc.why) from None
            if not servers:  # "off": this check has nothing to ask
                raise InvalidInput(field, Why.NOT_A_VALID_KIND(kind="DNS resolver (system, IP or IP:PORT)",
                                                               value=repr(where)))
        asker = DnsAsker(where, float(max(1, settings.dns_check_timeout)))
        return asyncio.run(_check(items, self.publishing(), asker, bound))


def mta_sts_policy_for(backends: Backends, host: str) -> str | None:
    """The MTA-STS policy for a request to `host` (the Host header, without a port): for
    mta-sts.DOMAIN of a hosted, active domain (or an alias domain of one); else None."""
    name = host.strip().rstrip(".").lower()
    if not name.startswith("mta-sts."):
        return None
    try:
        domain = normalize_domain(name.removeprefix("mta-sts."), "host")
    except InvalidInput:
        return None
    alias = backends.domains.find_alias(domain)
    found = backends.domains.find(alias.target if alias else domain)
    if found is None or found.status is not Status.ACTIVE:
        return None
    return mta_sts_policy(publishing_of(backends.settings))
