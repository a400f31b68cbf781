"""The DNS records a domain publishes and the judging of DNS's answers (core/dns_records.py,
issue 19), without DNS: the zone file loads in dnspython; each wrong answer is named with
its reason; a setting that cannot make a record is refused naming the setting. Against a
DNS server on loopback, through the service and the CLI: tests/integration/test_dns_check.py."""

from __future__ import annotations

import dns.rdatatype
import dns.zone
import pytest

from mailgothai.core.dns_records import (
    Answer,
    Finding,
    Publishing,
    Purpose,
    Record,
    State,
    judge,
    mta_sts_id,
    mta_sts_policy,
    publishing,
    questions,
    records,
    zone_text,
)
from mailgothai.errors import InvalidInput

DOMAIN = "moph.go.th"
DKIM_TEXT = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9  # longer than 255


def choices(**changes: object) -> Publishing:
    values: dict[str, object] = {
        "mx_hosts": ["mx1.mailgothai.go.th", "MX2.mailgothai.go.th."], "mail_host": "mail.mailgothai.go.th",
        "web_host": "admin.mailgothai.go.th", "spf_mechanisms": ["mx"], "dmarc_policy": "quarantine",
        "dmarc_reports": "dmarc@mailgothai.go.th", "tlsrpt_reports": "tls-reports@mailgothai.go.th",
        "mta_sts_mode": "enforce", "mta_sts_max_age": 86400, "imaps_port": 993, "submissions_port": 465,
        "submission_port": 587}
    values.update(changes)
    return publishing(**values)  # type: ignore[arg-type]


def by_purpose(found: list[Record], purpose: Purpose) -> list[Record]:
    return [r for r in found if r.purpose is purpose]


def test_the_records_a_domain_publishes() -> None:
    pub = choices()
    found = records(DOMAIN, pub, [("s2026", DKIM_TEXT)])
    assert [(r.name, r.value) for r in by_purpose(found, Purpose.MX)] == [
        (DOMAIN, "10 mx1.mailgothai.go.th"), (DOMAIN, "20 mx2.mailgothai.go.th")]
    assert [r.value for r in by_purpose(found, Purpose.SPF)] == ["v=spf1 mx -all"]
    [dkim] = by_purpose(found, Purpose.DKIM)
    assert (dkim.name, dkim.value) == (f"s2026._domainkey.{DOMAIN}", DKIM_TEXT)
    assert [(r.name, r.value) for r in by_purpose(found, Purpose.DMARC)] == [
        (f"_dmarc.{DOMAIN}", "v=DMARC1; p=quarantine; rua=mailto:dmarc@mailgothai.go.th")]
    [outside] = by_purpose(found, Purpose.DMARC_REPORTS)  # RFC 7489 7.1: the report domain consents
    assert (outside.name, outside.value, outside.elsewhere) == (
        f"{DOMAIN}._report._dmarc.mailgothai.go.th", "v=DMARC1", True)
    assert [r.value for r in by_purpose(found, Purpose.MTA_STS)] == [f"v=STSv1; id={mta_sts_id(pub)}"]
    assert [(r.type, r.value) for r in found if r.name in (f"mta-sts.{DOMAIN}", f"autoconfig.{DOMAIN}",
                                                           f"autodiscover.{DOMAIN}")] == [
        ("CNAME", "admin.mailgothai.go.th")] * 3
    assert [r.value for r in by_purpose(found, Purpose.TLS_RPT)] == [
        "v=TLSRPTv1; rua=mailto:tls-reports@mailgothai.go.th"]
    assert [(r.name, r.value) for r in found if r.type == "SRV"] == [
        (f"_imaps._tcp.{DOMAIN}", "0 1 993 mail.mailgothai.go.th"),
        (f"_submissions._tcp.{DOMAIN}", "0 1 465 mail.mailgothai.go.th"),
        (f"_submission._tcp.{DOMAIN}", "0 1 587 mail.mailgothai.go.th")]
    # a report address inside the domain needs no consent; no TLS-RPT address, no record; a closed port, no SRV
    own = records(DOMAIN, choices(dmarc_reports=f"dmarc@{DOMAIN}", tlsrpt_reports="", imaps_port=0))
    assert not by_purpose(own, Purpose.DMARC_REPORTS) and not by_purpose(own, Purpose.TLS_RPT)
    assert not by_purpose(own, Purpose.SRV_IMAPS) and by_purpose(own, Purpose.SRV_SUBMISSION)


def test_the_mta_sts_policy_and_its_id() -> None:
    pub = choices()
    assert mta_sts_policy(pub) == ("version: STSv1\r\nmode: enforce\r\nmx: mx1.mailgothai.go.th\r\n"
                                   "mx: mx2.mailgothai.go.th\r\nmax_age: 86400\r\n")
    assert mta_sts_id(pub).isalnum() and len(mta_sts_id(pub)) <= 32
    assert mta_sts_id(choices()) == mta_sts_id(pub)  # the same policy: the same id
    assert mta_sts_id(choices(mta_sts_mode="testing")) != mta_sts_id(pub)  # a change: a new id


def test_the_zone_file_loads_in_dnspython_with_every_record() -> None:
    found = records(DOMAIN, choices(), [("s2026", DKIM_TEXT)])
    text = zone_text(DOMAIN, found)
    # no SOA: the records go into the agency's zone, which has its own
    zone = dns.zone.from_text(text, origin=f"{DOMAIN}.", check_origin=False)
    loaded: dict[tuple[str, str], list[str]] = {}
    for name, _ttl, rdata in zone.iterate_rdatas():
        absolute = name.derelativize(zone.origin).to_text(omit_final_dot=True)
        kind = dns.rdatatype.to_text(rdata.rdtype)
        if kind == "TXT":
            value = b"".join(rdata.strings).decode()
            assert all(len(s) <= 255 for s in rdata.strings)
        else:
            value = rdata.to_text().rstrip(".")
        loaded.setdefault((absolute, kind), []).append(value)
    expected: dict[tuple[str, str], list[str]] = {}
    for r in found:
        if not r.elsewhere:
            expected.setdefault((r.name, r.type), []).append(r.value)
    assert {k: sorted(v) for k, v in loaded.items()} == {k: sorted(v) for k, v in expected.items()}
    assert len(loaded[(f"s2026._domainkey.{DOMAIN}", "TXT")][0]) > 255  # split, and joined back whole
    # the other zone's record is there for the operator, as a comment
    assert f"; {DOMAIN}._report._dmarc.mailgothai.go.th. 3600 IN TXT \"v=DMARC1\"" in text


def published(pub: Publishing, **changes: Answer) -> dict[tuple[str, str], Answer]:
    """Every question answered as it should be, except `changes` (keys "NAME TYPE")."""
    found = records(DOMAIN, pub, [("s2026", DKIM_TEXT)])
    answers: dict[tuple[str, str], Answer] = {}
    for name, kind in questions(found, pub):
        values = tuple(r.value for r in found if (r.name, r.type) == (name, kind))
        answers[(name, kind)] = Answer(values)
    for key, answer in changes.items():
        name, kind = key.split(" ")
        answers[(name, kind)] = answer
    return answers


def findings(pub: Publishing, **changes: Answer) -> dict[str, Finding]:
    found = records(DOMAIN, pub, [("s2026", DKIM_TEXT)])
    return {f.purpose.value: f for f in judge(found, published(pub, **changes))}


def test_everything_published_is_ok() -> None:
    result = findings(choices())
    assert {k: f.state for k, f in result.items()} == {k: State.OK for k in result}
    assert len(result) == 13


@pytest.mark.parametrize(("key", "answer", "purpose", "state", "code"), [
    (f"_dmarc.{DOMAIN} TXT", Answer(exists=False), "dmarc", State.MISSING, "dns_no_such_name"),
    (f"_dmarc.{DOMAIN} TXT", Answer(("some other text",)), "dmarc", State.MISSING, "dns_not_published"),
    (f"_dmarc.{DOMAIN} TXT", Answer(("v=DMARC1; rua=mailto:dmarc@mailgothai.go.th",)), "dmarc", State.WRONG,
     "dns_dmarc_no_policy"),
    (f"_dmarc.{DOMAIN} TXT", Answer(("v=DMARC1; p=none; rua=mailto:dmarc@mailgothai.go.th",)), "dmarc",
     State.WRONG, "dns_dmarc_monitor_only"),
    (f"_dmarc.{DOMAIN} TXT", Answer(("v=DMARC1; p=reject",)), "dmarc", State.WRONG, "dns_reports_elsewhere"),
    (f"_dmarc.{DOMAIN} TXT", Answer(("v=DMARC1; p=reject", "v=DMARC1; p=none")), "dmarc", State.WRONG,
     "dns_many_records"),
    (f"{DOMAIN} TXT", Answer(("v=spf1 mx +all",)), "spf", State.WRONG, "dns_spf_allows_all"),
    (f"{DOMAIN} TXT", Answer(("v=spf1 mx all",)), "spf", State.WRONG, "dns_spf_allows_all"),
    (f"{DOMAIN} TXT", Answer(("v=spf1 mx",)), "spf", State.WRONG, "dns_spf_no_all"),
    (f"{DOMAIN} TXT", Answer(("v=spf1 ip4:192.0.2.1 -all",)), "spf", State.WRONG, "dns_spf_not_authorising"),
    (f"{DOMAIN} TXT", Answer(("v=spf1 mx -all", "v=spf1 a -all")), "spf", State.WRONG, "dns_many_records"),
    (f"{DOMAIN} TXT", Answer(("google-site-verification=x",)), "spf", State.MISSING, "dns_not_published"),
    (f"{DOMAIN} MX", Answer(("10 mx1.mailgothai.go.th", "20 mx.old-provider.example")), "mx", State.WRONG,
     "dns_mx_elsewhere"),
    (f"{DOMAIN} MX", Answer(("10 mx1.mailgothai.go.th",)), "mx", State.WRONG, "dns_mx_missing"),
    (f"{DOMAIN} MX", Answer(("0 ",)), "mx", State.WRONG, "dns_null_mx"),
    (f"{DOMAIN} MX", Answer(failed="no answer within 5 s"), "mx", State.UNKNOWN, "dns_not_asked"),
    (f"s2026._domainkey.{DOMAIN} TXT", Answer(("v=DKIM1; k=rsa; p=MIIBother",)), "dkim", State.WRONG,
     "dns_dkim_other_key"),
    (f"s2026._domainkey.{DOMAIN} TXT", Answer(("v=DKIM1; k=rsa; p=",)), "dkim", State.WRONG, "dns_dkim_revoked"),
    (f"_mta-sts.{DOMAIN} TXT", Answer(("v=STSv1; id=2019",)), "mta-sts", State.WRONG, "dns_mta_sts_old_id"),
    (f"mta-sts.{DOMAIN} CNAME", Answer(("www.example.org",)), "mta-sts-host", State.WRONG,
     "dns_points_elsewhere"),
    (f"_smtp._tls.{DOMAIN} TXT", Answer(("v=TLSRPTv1; rua=mailto:someone@example.org",)), "tls-rpt",
     State.WRONG, "dns_reports_elsewhere"),
    (f"_imaps._tcp.{DOMAIN} SRV", Answer(("0 1 143 mail.mailgothai.go.th",)), "srv-imaps", State.WRONG,
     "dns_srv_elsewhere"),
])
def test_what_is_missing_or_wrong_is_named(key: str, answer: Answer, purpose: str, state: State,
                                           code: str) -> None:
    result = findings(choices(), **{key: answer})
    assert (result[purpose].state, result[purpose].reason and result[purpose].reason.code) == (state, code)
    assert [p for p, f in result.items() if f.state is not State.OK] == [purpose]  # nothing else


def test_a_host_published_as_addresses_is_right_when_they_are_the_web_hosts() -> None:
    same = {f"autoconfig.{DOMAIN} CNAME": Answer(), f"autoconfig.{DOMAIN} A": Answer(("192.0.2.7",)),
            "admin.mailgothai.go.th A": Answer(("192.0.2.7",))}
    assert findings(choices(), **same)["autoconfig"].state is State.OK
    other = {**same, f"autoconfig.{DOMAIN} A": Answer(("198.51.100.1",))}
    assert findings(choices(), **other)["autoconfig"].reason.code == "dns_addresses_elsewhere"  # type: ignore[union-attr]
    nothing = {f"autoconfig.{DOMAIN} CNAME": Answer(exists=False), f"autoconfig.{DOMAIN} A": Answer(exists=False)}
    assert findings(choices(), **nothing)["autoconfig"].state is State.MISSING


def test_spf_with_the_operators_own_mechanisms_and_softfail() -> None:
    pub = choices(spf_mechanisms=["mx", "ip4:192.0.2.0/24", "include:_spf.mailgothai.go.th"])
    assert [r.value for r in by_purpose(records(DOMAIN, pub), Purpose.SPF)] == [
        "v=spf1 mx ip4:192.0.2.0/24 include:_spf.mailgothai.go.th -all"]
    ok = findings(pub, **{f"{DOMAIN} TXT": Answer(("v=spf1 +mx include:_spf.mailgothai.go.th ip4:192.0.2.0/24 "
                                                   "a ~all",))})
    assert ok["spf"].state is State.OK  # order, a '+' and more mechanisms do not matter; ~all is a refusal too


@pytest.mark.parametrize(("change", "field"), [
    ({"mx_hosts": []}, "mx_hosts"), ({"mx_hosts": ["vm"]}, "mx_hosts"), ({"mx_hosts": ["192.0.2.1"]}, "mx_hosts"),
    ({"web_host": "bad host"}, "web_host"), ({"spf_mechanisms": ["+all"]}, "spf_mechanisms"),
    ({"dmarc_policy": "strict"}, "dmarc_policy"), ({"mta_sts_mode": "on"}, "mta_sts_mode"),
    ({"dmarc_reports": "not an address"}, "dmarc_reports"),
])
def test_a_choice_that_cannot_make_a_record_is_refused_naming_it(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        choices(**change)
    assert refused.value.field == field
    with pytest.raises(InvalidInput) as named:
        choices(fields={"mx_hosts": "relay_hostname"}, mx_hosts=["vm"])
    assert named.value.field == "relay_hostname"  # the setting the operator has to change
