"""The DNS records a hosted domain publishes, and DNS's answers judged against them
(issue 19). No I/O: the service (services/dns_check.py) asks DNS through the adapter
(dnsquery.py) and hands the answers here.

For DOMAIN, with the operator's choices in `Publishing` (from the settings):

- MX: each of the operator's MX hosts, preference 10, 20, …
- SPF (TXT at DOMAIN): ``v=spf1 <spf_mechanisms> -all``; by default ``mx``: the hosts
  that receive the domain's mail also send it (the relay does both).
- DKIM (TXT at SELECTOR._domainkey.DOMAIN): every key not yet retired — pending (publish
  before activating), active, and retiring (mail already signed must still verify).
- DMARC (TXT at _dmarc.DOMAIN): ``v=DMARC1; p=<dmarc_policy>`` and, when the operator
  named an address, ``rua=mailto:`` it. When that address is outside DOMAIN, its own
  domain must say it accepts DOMAIN's reports (RFC 7489 7.1): the record
  DOMAIN._report._dmarc.REPORTDOMAIN, published in the other zone (`elsewhere`).
- MTA-STS: TXT at _mta-sts.DOMAIN with the policy's id (a digest of the policy, so it
  changes exactly when the policy does) and mta-sts.DOMAIN a CNAME to the web host,
  which serves the policy (web/routes/mta_sts.py).
- TLS-RPT (TXT at _smtp._tls.DOMAIN) when the operator named a report address.
- autoconfig.DOMAIN and autodiscover.DOMAIN: CNAMEs to the web host (mail client set-up,
  web/routes/autoconfig.py); SRV records for IMAP and submission (RFC 6186, RFC 8314) at
  the mail host and the configured ports.

A host name that should be a CNAME may also be published as A records: it is right when
its addresses are the web host's.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.dkim import dns_name, split_txt
from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import InvalidInput

TTL = 3600
DMARC_POLICIES = ("none", "quarantine", "reject")
MTA_STS_MODES = ("testing", "enforce", "none")
_SPF_MECHANISM = re.compile(r"^[+~-]?(?:mx|a)(?::[a-z0-9._-]+)?(?:/\d{1,3})?$|^[+~-]?ip4:[0-9./]+$"
                            r"|^[+~-]?ip6:[0-9a-f:./]+$|^[+~-]?include:[a-z0-9._-]+$", re.IGNORECASE)


class Purpose(enum.StrEnum):
    """What a record is for; the order in which records are shown."""

    MX = "mx"
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    DMARC_REPORTS = "dmarc-reports"  # in the report address's zone
    MTA_STS = "mta-sts"
    MTA_STS_HOST = "mta-sts-host"
    TLS_RPT = "tls-rpt"
    AUTOCONFIG = "autoconfig"
    AUTODISCOVER = "autodiscover"
    SRV_IMAPS = "srv-imaps"
    SRV_SUBMISSIONS = "srv-submissions"
    SRV_SUBMISSION = "srv-submission"


@dataclass(frozen=True)
class Publishing:
    """The operator's choices every domain's records follow."""

    mx_hosts: tuple[str, ...]
    mail_host: str  # IMAP and submission (SRV targets)
    web_host: str  # the admin web: MTA-STS policy, autoconfig, autodiscover
    spf_mechanisms: tuple[str, ...] = ("mx",)
    dmarc_policy: str = "quarantine"
    dmarc_reports: str = ""  # address; empty: no rua
    tlsrpt_reports: str = ""  # address; empty: no TLS-RPT record
    mta_sts_mode: str = "testing"
    mta_sts_max_age: int = 604800
    imaps_port: int = 993  # 0: not listening (no SRV record)
    submissions_port: int = 465
    submission_port: int = 587


def _host(value: str, field: str) -> str:
    text = value.strip().rstrip(".") if isinstance(value, str) else value
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return normalize_domain(text, field)
    raise InvalidInput(field, Why.DNS_HOST_IS_AN_ADDRESS(value=repr(value)))


def publishing(*, mx_hosts: Sequence[str], mail_host: str, web_host: str, spf_mechanisms: Sequence[str],
               dmarc_policy: str, dmarc_reports: str, tlsrpt_reports: str, mta_sts_mode: str,
               mta_sts_max_age: int, imaps_port: int, submissions_port: int, submission_port: int,
               fields: Mapping[str, str] | None = None) -> Publishing:
    """Validated choices; an error names the setting (`fields` maps a choice to the
    setting it came from when that is not the same name)."""
    names = {"mx_hosts": "mx_hosts", "mail_host": "mail_host", "web_host": "web_host",
             "dmarc_reports": "dmarc_reports", "tlsrpt_reports": "tlsrpt_reports", **(fields or {})}
    if not mx_hosts:
        raise InvalidInput(names["mx_hosts"], Why.REQUIRED())
    hosts = tuple(dict.fromkeys(_host(h, names["mx_hosts"]) for h in mx_hosts))
    mechanisms = tuple(m.strip().lower() for m in spf_mechanisms if m.strip())
    for mechanism in mechanisms:
        if not _SPF_MECHANISM.match(mechanism):
            raise InvalidInput("spf_mechanisms", Why.NOT_A_VALID_KIND(kind="SPF mechanism", value=repr(mechanism)))
    if not mechanisms:
        raise InvalidInput("spf_mechanisms", Why.REQUIRED())
    policy, mode = dmarc_policy.strip().lower(), mta_sts_mode.strip().lower()
    if policy not in DMARC_POLICIES:
        raise InvalidInput("dmarc_policy", Why.NOT_A_CHOICE(choices="none, quarantine, reject",
                                                             value=repr(dmarc_policy)))
    if mode not in MTA_STS_MODES:
        raise InvalidInput("mta_sts_mode", Why.NOT_A_CHOICE(choices="testing, enforce, none",
                                                             value=repr(mta_sts_mode)))
    reports = normalize_address(dmarc_reports, names["dmarc_reports"]) if dmarc_reports.strip() else ""
    tls = normalize_address(tlsrpt_reports, names["tlsrpt_reports"]) if tlsrpt_reports.strip() else ""
    return Publishing(hosts, _host(mail_host, names["mail_host"]), _host(web_host, names["web_host"]),
                      mechanisms, policy, reports, tls, mode, mta_sts_max_age, imaps_port, submissions_port,
                      submission_port)


@dataclass(frozen=True)
class Record:
    """One record to publish. `value`: a TXT's whole text; an MX's "PREFERENCE HOST"; a
    CNAME's host; an SRV's "PRIORITY WEIGHT PORT HOST" (host names without the final dot)."""

    purpose: Purpose
    name: str
    type: str
    value: str
    elsewhere: bool = False  # published in another zone than the domain's
    selector: str = ""  # a DKIM record's

    @property
    def rdata(self) -> str:
        """The value as a zone file writes it."""
        if self.type == "TXT":
            return " ".join('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
                            for part in split_txt(self.value))
        *numbers, host = self.value.split(" ")
        return " ".join([*numbers, host + "."])

    @property
    def zone_line(self) -> str:
        return f"{self.name}. {TTL} IN {self.type} {self.rdata}"


def mta_sts_policy(pub: Publishing) -> str:
    """The policy served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461 3.2):
    the same for every domain, since every domain's mail goes to the same MX hosts."""
    lines = ["version: STSv1", f"mode: {pub.mta_sts_mode}", *(f"mx: {host}" for host in pub.mx_hosts),
             f"max_age: {pub.mta_sts_max_age}"]
    return "".join(line + "\r\n" for line in lines)


def mta_sts_id(pub: Publishing) -> str:
    """The policy's id (1-32 letters or digits): it changes when, and only when, the policy does."""
    return hashlib.sha256(mta_sts_policy(pub).encode("ascii")).hexdigest()[:20]


def records(domain: str, pub: Publishing, dkim: Sequence[tuple[str, str]] = ()) -> list[Record]:
    """Every record DOMAIN publishes; `dkim`: (selector, TXT text) of each key not retired."""
    d = domain
    out = [Record(Purpose.MX, d, "MX", f"{10 * (n + 1)} {host}") for n, host in enumerate(pub.mx_hosts)]
    out.append(Record(Purpose.SPF, d, "TXT", "v=spf1 " + " ".join(pub.spf_mechanisms) + " -all"))
    out += [Record(Purpose.DKIM, dns_name(selector, d), "TXT", text, selector=selector) for selector, text in dkim]
    dmarc = f"v=DMARC1; p={pub.dmarc_policy}" + (f"; rua=mailto:{pub.dmarc_reports}" if pub.dmarc_reports else "")
    out.append(Record(Purpose.DMARC, f"_dmarc.{d}", "TXT", dmarc))
    if pub.dmarc_reports:
        report_domain = split_address(pub.dmarc_reports)[1]
        if report_domain != d and not d.endswith("." + report_domain):
            out.append(Record(Purpose.DMARC_REPORTS, f"{d}._report._dmarc.{report_domain}", "TXT", "v=DMARC1",
                              elsewhere=True))
    out.append(Record(Purpose.MTA_STS, f"_mta-sts.{d}", "TXT", f"v=STSv1; id={mta_sts_id(pub)}"))
    out.append(Record(Purpose.MTA_STS_HOST, f"mta-sts.{d}", "CNAME", pub.web_host))
    if pub.tlsrpt_reports:
        out.append(Record(Purpose.TLS_RPT, f"_smtp._tls.{d}", "TXT", f"v=TLSRPTv1; rua=mailto:{pub.tlsrpt_reports}"))
    out.append(Record(Purpose.AUTOCONFIG, f"autoconfig.{d}", "CNAME", pub.web_host))
    out.append(Record(Purpose.AUTODISCOVER, f"autodiscover.{d}", "CNAME", pub.web_host))
    for purpose, service, port in ((Purpose.SRV_IMAPS, "_imaps", pub.imaps_port),
                                   (Purpose.SRV_SUBMISSIONS, "_submissions", pub.submissions_port),
                                   (Purpose.SRV_SUBMISSION, "_submission", pub.submission_port)):
        if port:
            out.append(Record(purpose, f"{service}._tcp.{d}", "SRV", f"0 1 {port} {pub.mail_host}"))
    return out


def zone_text(domain: str, found: Sequence[Record]) -> str:
    """The domain's records as a zone file (RFC 1035 master file) that loads as it is; a
    record of another zone is written as a comment after them."""
    lines = [f"; MailGoThai: the DNS records of {domain}", f"$ORIGIN {domain}.", f"$TTL {TTL}"]
    lines += [r.zone_line for r in found if not r.elsewhere]
    for r in (r for r in found if r.elsewhere):
        lines += [f"; in the zone of {r.name.split('._report._dmarc.')[-1]} (it accepts {domain}'s DMARC reports):",
                  f"; {r.zone_line}"]
    return "\n".join(lines) + "\n"


# ---- judging what DNS answered -----------------------------------------------------


class State(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    WRONG = "wrong"
    UNKNOWN = "unknown"  # DNS could not be asked (a timeout, SERVFAIL)


@dataclass(frozen=True)
class Answer:
    """DNS's answer to one question: the records' values in Record.value's form (TXT
    strings joined), or that the name does not exist, or why it could not be asked."""

    values: tuple[str, ...] = ()
    exists: bool = True  # False: NXDOMAIN
    failed: str = ""  # not empty: no answer could be had, and why


@dataclass(frozen=True)
class Finding:
    purpose: Purpose
    name: str
    type: str
    state: State
    expected: tuple[str, ...]
    found: tuple[str, ...] = ()
    reason: Reason | None = None
    elsewhere: bool = False
    selector: str = ""


Question = tuple[str, str]  # (name, type)


def questions(found: Sequence[Record], pub: Publishing) -> list[Question]:
    """What to ask DNS to judge `found` (each once)."""
    asked: dict[Question, None] = {}
    for r in found:
        asked[(r.name, r.type)] = None
        if r.type == "CNAME":  # published as addresses instead: compare with the web host's
            asked[(r.name, "A")] = None
            asked[(pub.web_host, "A")] = None
    return list(asked)


def _txt_of(answer: Answer, prefix: str) -> list[str]:
    return [v for v in answer.values if v[:len(prefix)].lower() == prefix.lower()
            and (len(v) == len(prefix) or v[len(prefix)] in " ;\t")]


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            tags.setdefault(key.strip().lower(), value.strip())
    return tags


def _host_of(value: str) -> str:
    return value.strip().rstrip(".").lower()


def _addresses(values: Sequence[str]) -> set[str]:
    return {mailto.strip()[len("mailto:"):].lower() for v in values for mailto in v.split(",")
            if mailto.strip().lower().startswith("mailto:")}


class _Judge:
    def __init__(self, answers: Mapping[Question, Answer]) -> None:
        self.answers = answers

    def finding(self, r: Record | Sequence[Record], state: State, found: Sequence[str] = (),
                reason: Reason | None = None) -> Finding:
        group = [r] if isinstance(r, Record) else list(r)
        first = group[0]
        return Finding(first.purpose, first.name, first.type, state, tuple(x.value for x in group), tuple(found),
                       reason, first.elsewhere, first.selector)

    def unusable(self, r: Record | Sequence[Record], answer: Answer, values: Sequence[str]) -> Finding | None:
        """Could not ask, or nothing there: the finding; else None (go on judging)."""
        first = r if isinstance(r, Record) else r[0]
        if answer.failed:
            return self.finding(r, State.UNKNOWN, reason=Why.DNS_NOT_ASKED(detail=answer.failed))
        if not answer.exists:
            return self.finding(r, State.MISSING, reason=Why.DNS_NO_SUCH_NAME(name=first.name))
        if not values:
            return self.finding(r, State.MISSING, answer.values, Why.DNS_NOT_PUBLISHED(type=first.type,
                                                                                      name=first.name))
        return None

    def one(self, r: Record, prefix: str, kind: str) -> tuple[Finding | None, str]:
        """The single TXT record of a kind at r.name (v=… prefix), or the finding that ends the judging."""
        answer = self.answers[(r.name, r.type)]
        values = _txt_of(answer, prefix)
        stop = self.unusable(r, answer, values)
        if stop is None and len(values) > 1:
            stop = self.finding(r, State.WRONG, values, Why.DNS_MANY_RECORDS(count=len(values), kind=kind))
        return stop, (values[0] if values else "")

    # -- each purpose ------------------------------------------------------------
    def mx(self, group: Sequence[Record]) -> Finding:
        answer = self.answers[(group[0].name, "MX")]
        stop = self.unusable(group, answer, answer.values)
        if stop:
            return stop
        hosts = [_host_of(v.split(" ", 1)[-1]) for v in answer.values]
        expected = [_host_of(r.value.split(" ", 1)[1]) for r in group]
        if "" in hosts:
            return self.finding(group, State.WRONG, answer.values, Why.DNS_NULL_MX())
        for host in hosts:
            if host not in expected:
                return self.finding(group, State.WRONG, answer.values,
                                    Why.DNS_MX_ELSEWHERE(host=host, expected=", ".join(expected)))
        for host in expected:
            if host not in hosts:
                return self.finding(group, State.WRONG, answer.values, Why.DNS_MX_MISSING(host=host))
        return self.finding(group, State.OK, answer.values)

    def spf(self, r: Record) -> Finding:
        stop, text = self.one(r, "v=spf1", "SPF")
        if stop:
            return stop
        terms = [t.lower() for t in text.split()[1:]]
        alls = [t for t in terms if t.lstrip("+-~?") == "all"]
        if alls and alls[-1][0] not in "-~":
            return self.finding(r, State.WRONG, [text], Why.DNS_SPF_ALLOWS_ALL(term=repr(alls[-1])))
        if not alls and not any(t.startswith("redirect=") for t in terms):
            return self.finding(r, State.WRONG, [text], Why.DNS_SPF_NO_ALL())
        bare = {t.lstrip("+") for t in terms}
        for mechanism in r.value.split()[1:-1]:
            if mechanism.lstrip("+") not in bare:
                return self.finding(r, State.WRONG, [text], Why.DNS_SPF_NOT_AUTHORISING(mechanism=repr(mechanism)))
        return self.finding(r, State.OK, [text])

    def dkim(self, r: Record) -> Finding:
        answer = self.answers[(r.name, "TXT")]
        stop = self.unusable(r, answer, answer.values)
        if stop:
            return stop
        keys = [v for v in answer.values if "p" in _tags(v)]
        if not keys:
            return self.finding(r, State.WRONG, answer.values, Why.DNS_DKIM_NO_KEY())
        if len(keys) > 1:
            return self.finding(r, State.WRONG, keys, Why.DNS_MANY_RECORDS(count=len(keys), kind="DKIM"))
        published, wanted = _tags(keys[0]), _tags(r.value)
        key = re.sub(r"\s+", "", published["p"])
        if not key:
            return self.finding(r, State.WRONG, keys, Why.DNS_DKIM_REVOKED())
        if key != wanted["p"] or published.get("k", "rsa").lower() != wanted.get("k", "rsa"):
            return self.finding(r, State.WRONG, keys, Why.DNS_DKIM_OTHER_KEY(selector=r.selector))
        return self.finding(r, State.OK, keys)

    def dmarc(self, r: Record) -> Finding:
        stop, text = self.one(r, "v=DMARC1", "DMARC")
        if stop:
            return stop
        tags, wanted = _tags(text), _tags(r.value)
        policy = tags.get("p", "").lower()
        if not policy:
            return self.finding(r, State.WRONG, [text], Why.DNS_DMARC_NO_POLICY())
        if policy not in DMARC_POLICIES:
            return self.finding(r, State.WRONG, [text], Why.DNS_DMARC_BAD_POLICY(value=repr(tags["p"])))
        if policy == "none" and wanted["p"] != "none":
            return self.finding(r, State.WRONG, [text], Why.DNS_DMARC_MONITOR_ONLY(expected=repr(wanted["p"])))
        return self._reports(r, text, tags, wanted)

    def _reports(self, r: Record, text: str, tags: Mapping[str, str], wanted: Mapping[str, str]) -> Finding:
        for address in sorted(_addresses([wanted.get("rua", "")]) - _addresses([tags.get("rua", "")])):
            return self.finding(r, State.WRONG, [text], Why.DNS_REPORTS_ELSEWHERE(address=address))
        return self.finding(r, State.OK, [text])

    def tls_rpt(self, r: Record) -> Finding:
        stop, text = self.one(r, "v=TLSRPTv1", "TLS-RPT")
        if stop:
            return stop
        return self._reports(r, text, _tags(text), _tags(r.value))

    def dmarc_reports(self, r: Record) -> Finding:
        stop, text = self.one(r, "v=DMARC1", "DMARC")
        return stop or self.finding(r, State.OK, [text])

    def mta_sts(self, r: Record) -> Finding:
        stop, text = self.one(r, "v=STSv1", "MTA-STS")
        if stop:
            return stop
        found, wanted = _tags(text).get("id", ""), _tags(r.value)["id"]
        if found != wanted:
            return self.finding(r, State.WRONG, [text], Why.DNS_MTA_STS_OLD_ID(found=repr(found),
                                                                               expected=repr(wanted)))
        return self.finding(r, State.OK, [text])

    def alias(self, r: Record) -> Finding:
        answer = self.answers[(r.name, "CNAME")]
        if answer.failed:
            return self.finding(r, State.UNKNOWN, reason=Why.DNS_NOT_ASKED(detail=answer.failed))
        if answer.values:
            target = _host_of(answer.values[0])
            if target != r.value:
                return self.finding(r, State.WRONG, answer.values, Why.DNS_POINTS_ELSEWHERE(found=target,
                                                                                             expected=r.value))
            return self.finding(r, State.OK, answer.values)
        own = self.answers[(r.name, "A")]
        stop = self.unusable(r, own, own.values)
        if stop:
            return stop
        web = self.answers[(r.value, "A")]
        if web.failed:
            return self.finding(r, State.UNKNOWN, own.values, Why.DNS_NOT_ASKED(detail=web.failed))
        if set(own.values) != set(web.values):
            return self.finding(r, State.WRONG, own.values,
                                Why.DNS_ADDRESSES_ELSEWHERE(found=", ".join(own.values), expected=r.value))
        return self.finding(r, State.OK, own.values)

    def srv(self, r: Record) -> Finding:
        answer = self.answers[(r.name, "SRV")]
        stop = self.unusable(r, answer, answer.values)
        if stop:
            return stop
        port, host = r.value.split(" ")[2:]
        for value in answer.values:
            parts = value.split(" ")
            if len(parts) == 4 and parts[2] == port and _host_of(parts[3]) == host:
                return self.finding(r, State.OK, answer.values)
        return self.finding(r, State.WRONG, answer.values,
                            Why.DNS_SRV_ELSEWHERE(found="; ".join(answer.values), port=port, host=host))


def judge(found: Sequence[Record], answers: Mapping[Question, Answer]) -> list[Finding]:
    """One finding per record (the MX records together), in `found`'s order. Every
    question of `questions(found, …)` must have its answer."""
    j = _Judge(answers)
    out: list[Finding] = []
    mx = [r for r in found if r.purpose is Purpose.MX]
    for r in found:
        if r.purpose is Purpose.MX:
            if r is mx[0]:
                out.append(j.mx(mx))
        elif r.purpose is Purpose.SPF:
            out.append(j.spf(r))
        elif r.purpose is Purpose.DKIM:
            out.append(j.dkim(r))
        elif r.purpose is Purpose.DMARC:
            out.append(j.dmarc(r))
        elif r.purpose is Purpose.DMARC_REPORTS:
            out.append(j.dmarc_reports(r))
        elif r.purpose is Purpose.MTA_STS:
            out.append(j.mta_sts(r))
        elif r.purpose is Purpose.TLS_RPT:
            out.append(j.tls_rpt(r))
        elif r.type == "CNAME":
            out.append(j.alias(r))
        else:
            out.append(j.srv(r))
    return out
