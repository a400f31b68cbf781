"""The OpenAPI entries of password policies (issue 20): the operator's floor and a
domain's own, stricter policy; a domain's password lifecycle (change at first login,
maximum age, warning lead). Merged into the document by openapi.py."""

from __future__ import annotations

from typing import Any

from mailgothai.core.password_lifecycle import MAX_AGE_DAYS, MAX_WARN_DAYS
from mailgothai.core.password_policy import CLASS_ORDER, MAX_MIN_LENGTH
from mailgothai.core.passwords import MIN_LENGTH
from mailgothai.web.api.openapi import BOOL, DOMAIN, NULLABLE_STR, STR, P, _body, _op

TAG = "passwords"
FIELDS = {
    "min_length": {"type": "integer", "minimum": MIN_LENGTH, "maximum": MAX_MIN_LENGTH,
                   "description": "at least this many characters"},
    "required_classes": {"type": "array", "uniqueItems": True,
                         "items": {"type": "string", "enum": [c.value for c in CLASS_ORDER]},
                         "description": "character classes that must appear (other: anything but a Latin letter "
                                        "or a digit, Thai letters included)"},
    "min_classes": {"type": "integer", "minimum": 0, "maximum": len(CLASS_ORDER),
                    "description": "at least this many of the four classes"},
    "forbid_personal": {**BOOL, "description": "refuse a password containing the address, its local part, or "
                                               "the given name, surname or a word of the display name"},
    "min_strength": {"type": "integer", "minimum": 0, "maximum": 4,
                     "description": "lowest zxcvbn score (0-4) of the password's first 72 characters; 0: none"},
}
CHANGED = {"changed_at": NULLABLE_STR, "changed_by": NULLABLE_STR}
LIFECYCLE = {
    "must_change_generated": {**BOOL, "description": "a new account whose password was generated must change it "
                                                     "at its first login (default true)"},
    "must_change_on_create": {**BOOL, "description": "every new account must change its password at its first "
                                                     "login (default false)"},
    "max_age_days": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_AGE_DAYS,
                     "description": "a password older than this many days must be changed; null or 0: never "
                                    "(the default); read back as null"},
    "warn_days": {"type": "integer", "minimum": 0, "maximum": MAX_WARN_DAYS,
                  "description": "a warning goes out by mail this many days before a password expires (14)"},
}


def paths() -> dict[str, Any]:
    return {
        f"{P}/domains/{{domain}}/password-policy": {
            "get": _op("what the domain's new passwords must be: its own policy made at least as strict as the "
                       "operator's floor, or the floor (own false)", "DomainPasswordPolicy", [DOMAIN], tag=TAG),
            "patch": _op("change the fields given (the others stay); every field at least as strict as the "
                         "operator's floor, else 400 naming the field", "DomainPasswordPolicy", [DOMAIN],
                         _body(FIELDS), tag=TAG),
            "delete": _op("the domain follows the operator's floor again", None, [DOMAIN], tag=TAG)},
        f"{P}/password-policy": {
            "get": _op("the operator's floor under every domain's password policy", "PasswordFloor", tag=TAG),
            "patch": _op("change the fields given (operator)", "PasswordFloor", body=_body(FIELDS), tag=TAG)},
        f"{P}/domains/{{domain}}/password-lifecycle": {
            "get": _op("the domain's change at first login, maximum password age and warning lead",
                       "DomainPasswordLifecycle", [DOMAIN], tag=TAG),
            "patch": _op("change the fields given (the others stay); a bad value is 400 naming the field",
                         "DomainPasswordLifecycle", [DOMAIN], _body(LIFECYCLE), tag=TAG)},
    }


def schemas() -> dict[str, Any]:
    floor = {"type": "object", "required": list(FIELDS), "properties": FIELDS}
    return {
        "DomainPasswordPolicy": {"type": "object", "required": ["domain", *FIELDS, "own", "floor"], "properties": {
            "domain": STR, **FIELDS, "own": {**BOOL, "description": "false: the operator's floor"}, **CHANGED,
            "floor": {**floor, "description": "the operator's floor it cannot go below"}}},
        "PasswordFloor": {"type": "object", "required": list(FIELDS), "properties": {**FIELDS, **CHANGED}},
        "DomainPasswordLifecycle": {"type": "object", "required": ["domain", *LIFECYCLE, *CHANGED],
                                    "properties": {"domain": STR, **LIFECYCLE, **CHANGED}},
    }
