"""The OpenAPI entries of a domain's DKIM keys (issue 19). Merged into the document by
openapi.py."""

from __future__ import annotations

from typing import Any

from mailgothai.services.dkim import MAX_SWITCH_AFTER
from mailgothai.store.relay_state import KeyState
from mailgothai.web.api.openapi import DOMAIN, NULLABLE_STR, STR, P, _body, _op, _path_param, _ref

TAG = "dkim"
KEYS = f"{P}/domains/{{domain}}/dkim"
SELECTOR = _path_param("selector", "the key's selector (its DNS name is SELECTOR._domainkey.DOMAIN)")
ALGORITHM = {"type": "string", "enum": ["rsa", "ed25519"],
             "description": "rsa (2048 bits, the default) or ed25519 (an extra signature beside an RSA one)"}
SELECTOR_FIELD = {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
                  "description": "the new key's selector; default: one made from the date"}
NEW_KEY = {"algorithm": ALGORITHM, "selector": SELECTOR_FIELD}


def _optional(body: dict[str, Any]) -> dict[str, Any]:
    """A body whose every field has a default: none at all is a request too."""
    return {**body, "required": False}


def paths() -> dict[str, Any]:
    return {
        KEYS: {"get": _op("the domain's DKIM keys, their states and DNS records", "DkimKeyList", [DOMAIN],
                          tag=TAG)},
        f"{KEYS}/generate": {"post": _op(
            "the domain's first key of a type: it signs at once; publish its DNS record (409 if the domain has a "
            "live key of that type: rotate it)", "DkimKey", [DOMAIN], _optional(_body(NEW_KEY)), status="201",
            tag=TAG)},
        f"{KEYS}/rotate": {"post": _op(
            "a new pending key to publish; the active key signs until the new one is activated or switch_after "
            "seconds have passed (default: the service's setting)", "DkimKey", [DOMAIN],
            _optional(_body({**NEW_KEY, "switch_after": {"type": "integer", "minimum": 0, "maximum": MAX_SWITCH_AFTER,
                                                          "description": "seconds until it signs by itself"}})),
            status="201", tag=TAG)},
        f"{KEYS}/keys/{{selector}}": {"get": _op("a key, its state and its DNS record", "DkimKey",
                                                 [DOMAIN, SELECTOR], tag=TAG)},
        f"{KEYS}/keys/{{selector}}/activate": {"post": _op(
            "its DNS record is published: the pending key signs from now; the key it replaces is retiring",
            "DkimKey", [DOMAIN, SELECTOR], tag=TAG)},
        f"{KEYS}/keys/{{selector}}/retire": {"post": _op(
            "retire a replaced (retiring) or abandoned (pending) key: its private key is deleted and its DNS "
            "record may be removed", "DkimKey", [DOMAIN, SELECTOR], tag=TAG)},
    }


def schemas() -> dict[str, Any]:
    when = {**NULLABLE_STR, "format": "date-time"}
    return {
        "DkimKey": {"type": "object", "required": ["domain", "selector", "algorithm", "state", "created_at", "dns"],
                    "properties": {
            "domain": STR, "selector": STR, "algorithm": ALGORITHM,
            "state": {"type": "string", "enum": [s.value for s in KeyState],
                      "description": "pending (published, not signing), active (signing), retiring (replaced, "
                                     "its record still published), retired (private key deleted)"},
            "created_at": {**STR, "format": "date-time"}, "switch_after": when, "activated_at": when,
            "retire_after": when, "retired_at": when,
            "dns": {"type": "object", "required": ["name", "type", "text", "strings", "zone_line"], "properties": {
                "name": STR, "type": {"const": "TXT"}, "text": STR,
                "strings": {"type": "array", "items": {"type": "string", "maxLength": 255},
                            "description": "the text as the ≤255-character strings of the TXT record"},
                "zone_line": {**STR, "description": "the record as a zone file writes it"}}}}},
        "DkimKeyList": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": _ref("DkimKey")}}},
    }
