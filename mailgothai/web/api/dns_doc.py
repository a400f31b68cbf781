"""The OpenAPI entries of a domain's DNS records and their check (issue 19). Merged into
the document by openapi.py."""

from __future__ import annotations

from typing import Any

from mailgothai.core.dns_records import Purpose, State
from mailgothai.web.api.openapi import BOOL, DOMAIN, NULLABLE_STR, STR, STRS, P, _op

TAG = "dns"
DNS = f"{P}/domains/{{domain}}/dns"
PURPOSE = {"type": "string", "enum": [p.value for p in Purpose],
           "description": "what the record is for (dmarc-reports: published in the report address's zone)"}
TYPE = {"type": "string", "enum": ["MX", "TXT", "CNAME", "SRV"]}


def paths() -> dict[str, Any]:
    return {
        DNS: {"get": _op("the DNS records the domain publishes: MX, SPF, DKIM (each key not retired), DMARC, "
                         "MTA-STS, TLS-RPT, autoconfig, autodiscover and SRV; and all of them as a zone file",
                         "DnsRecords", [DOMAIN], tag=TAG)},
        f"{DNS}/check": {"post": _op(
            "ask DNS (the service's resolver) for each record and say whether it is ok, missing, wrong or could "
            "not be asked, and why", "DnsCheck", [DOMAIN], tag=TAG)},
    }


def schemas() -> dict[str, Any]:
    return {
        "DnsRecords": {"type": "object", "required": ["domain", "zone", "mta_sts_policy", "records"], "properties": {
            "mta_sts_policy": {**STR, "description": "the policy served at "
                                                     "https://mta-sts.DOMAIN/.well-known/mta-sts.txt"},
            "domain": STR, "zone": {**STR, "description": "the records as a zone file (no SOA: they go into the "
                                                          "domain's zone)"},
            "records": {"type": "array", "items": {"type": "object",
                                                   "required": ["purpose", "name", "type", "value", "zone_line",
                                                                "elsewhere"], "properties": {
                "purpose": PURPOSE, "name": STR, "type": TYPE,
                "value": {**STR, "description": "TXT: the text; MX: preference and host; CNAME: the host; SRV: "
                                                "priority, weight, port and host"},
                "zone_line": STR, "elsewhere": BOOL,
                "strings": {"type": "array", "items": {"type": "string", "maxLength": 255},
                            "description": "a TXT record's ≤255-character strings"}}}}}},
        "DnsCheck": {"type": "object", "required": ["domain", "ok", "findings"], "properties": {
            "domain": STR, "ok": {**BOOL, "description": "every record is published as it should be"},
            "findings": {"type": "array", "items": {"type": "object", "required": [
                "purpose", "name", "type", "state", "expected", "found", "elsewhere", "reason", "code"], "properties": {
                "purpose": PURPOSE, "name": STR, "type": TYPE,
                "state": {"type": "string", "enum": [s.value for s in State],
                          "description": "unknown: DNS could not be asked (a timeout, SERVFAIL)"},
                "expected": STRS, "found": STRS, "elsewhere": BOOL,
                "reason": {**NULLABLE_STR, "description": "why it is missing, wrong or unknown (English)"},
                "code": {**NULLABLE_STR, "description": "the reason's code"}}}}}},
    }
