"""The OpenAPI entries of inbound protection (issue 18): a domain's spam policy, the
operator's defaults and bounds, allow and block lists, the last 24 hours' counts. Merged
into the document by openapi.py."""

from __future__ import annotations

from typing import Any

from mailgothai.core.spam import SCORE_RANGE
from mailgothai.core.spam_input import LONGEST_DAYS
from mailgothai.web.api.openapi import BOOL, DOMAIN, EMAIL, NULLABLE_STR, STR, P, _body, _op, _path_param, _ref

LOW, HIGH = SCORE_RANGE
SCORE = {"type": ["number", "null"], "minimum": LOW, "maximum": HIGH,
         "description": "rspamd's score from which this happens; null: never (off)"}
BOUND = {"type": "number", "minimum": LOW, "maximum": HIGH}
DAYS = {"type": "integer", "minimum": 1, "maximum": LONGEST_DAYS}
POLICY = {
    "junk_score": {**SCORE, "description": "from this score: X-Spam: Yes, filed into Junk; null: off"},
    "quarantine_score": {**SCORE, "description": "from this score: kept in the quarantine; null: off"},
    "reject_score": {**SCORE, "description": "from this score: refused (550 5.7.1); null: off"},
    "greylisting": {**BOOL, "description": "greylist unknown senders"},
    "quarantine_days": {**DAYS, "description": "days a quarantined message is kept"},
}
BOUNDS = {
    "lowest_score": {**BOUND, "description": "the lowest score a domain admin may set"},
    "highest_score": {**BOUND, "description": "the highest score a domain admin may set"},
    "longest_quarantine_days": {**DAYS, "description": "the longest quarantine a domain admin may set"},
    "may_disable_greylisting": {**BOOL, "description": "whether domain admins may turn greylisting off"},
}
KIND = {"type": "string", "enum": ["allow", "block"]}
RULE = {"kind": KIND, "pattern": {"type": "string", "minLength": 1, "maxLength": 320,
                                  "description": "a sender's address (a@example.com) or domain (example.com, "
                                                 "its subdomains too)"}}
KIND_PARAM = {**_path_param("kind", "allow or block"), "schema": KIND}
PATTERN_PARAM = _path_param("pattern", "the listed address or domain")
TAG = "protection"


def paths() -> dict[str, Any]:
    def rules(owner: str, param: dict[str, Any], who: str) -> dict[str, Any]:
        return {
            f"{P}/{owner}/sender-rules": {
                "get": _op(f"{who}'s allow and block lists", "SenderRuleList", [param], tag=TAG),
                "post": _op(f"add a sender to {who}'s allow or block list (a block wins over an allow; an allow "
                            "counts only for a sender whose domain passed SPF, DKIM or DMARC)", "SenderRule",
                            [param], _body(RULE, ("kind", "pattern")), status="201", tag=TAG)},
            f"{P}/{owner}/sender-rules/{{kind}}/{{pattern}}": {
                "delete": _op(f"remove a sender from {who}'s list", None, [param, KIND_PARAM, PATTERN_PARAM],
                              tag=TAG)},
        }

    return {
        f"{P}/domains/{{domain}}/spam-policy": {
            "get": _op("the domain's spam policy: its own, or the operator's default (own false)", "SpamPolicy",
                       [DOMAIN], tag=TAG),
            "patch": _op("change the fields given (the others stay); a domain admin within the operator's bounds",
                         "SpamPolicy", [DOMAIN], _body(POLICY), tag=TAG),
            "delete": _op("the domain follows the operator's default again", None, [DOMAIN], tag=TAG)},
        **rules("domains/{domain}", DOMAIN, "the domain"),
        **rules("accounts/{email}", EMAIL, "an account"),
        f"{P}/spam/defaults": {
            "get": _op("the default spam policy and the bounds for domain admins (operator)", "SpamDefaults",
                       tag=TAG),
            "patch": _op("change the fields given (operator); the default must be within the bounds",
                         "SpamDefaults", body=_body({**POLICY, **BOUNDS}), tag=TAG)},
        f"{P}/spam/counts": {
            "get": _op("each domain's protection counts of the last 24 hours (every domain with any for an "
                       "operator, each of its domains for a domain admin), most first", "ProtectionCountList",
                       tag=TAG)},
    }


def schemas() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    return {
        "SpamPolicy": {"type": "object", "required": ["domain", *POLICY, "own"], "properties": {
            "domain": STR, **POLICY, "own": {**BOOL, "description": "false: the operator's default"},
            "changed_at": NULLABLE_STR, "changed_by": NULLABLE_STR,
            "bounds": {"type": ["object", "null"], "properties": BOUNDS,
                       "description": "what the token's administrator must keep to; null: an operator"}}},
        "SpamDefaults": {"type": "object", "required": [*POLICY, *BOUNDS], "properties": {**POLICY, **BOUNDS}},
        "SenderRule": {"type": "object", "required": ["owner", "kind", "pattern"], "properties": {
            "owner": {**STR, "description": "the domain or the account whose list it is"}, **RULE,
            "created_at": STR, "created_by": STR}},
        "SenderRuleList": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("SenderRule")}}},
        "ProtectionCounts": {"type": "object", "required": ["domain", "rejected", "quarantined", "junk", "greylisted",
                                                            "viruses"], "properties": {
            "domain": STR, "rejected": {**count, "description": "refused: spam, DMARC p=reject, blocked senders"},
            "quarantined": count, "junk": count, "greylisted": count, "viruses": count}},
        "ProtectionCountList": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("ProtectionCounts")}}},
    }
