"""What an admin types for inbound protection (issue 18), read into core/spam.py's values:
a policy's or the operator's bounds' fields from a form, the API's JSON or the CLI's
options, and an allow or block list's kind and pattern. Every refusal names the field.
No I/O; services/spam_policy.py decides who may set what."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from mailgothai.core.addresses import normalize_address, normalize_domain
from mailgothai.core.reasons import Why
from mailgothai.core.spam import SCORE_RANGE, ListKind, PolicyBounds, SpamPolicy
from mailgothai.errors import InvalidInput

# field name -> SpamPolicy attribute
POLICY_FIELDS = {"junk_score": "junk", "quarantine_score": "quarantine", "reject_score": "reject",
                 "greylisting": "greylisting", "quarantine_days": "quarantine_days"}
BOUNDS_FIELDS = ("lowest_score", "highest_score", "longest_quarantine_days", "may_disable_greylisting")
LONGEST_DAYS = 365
OFF = ("", "off", "none", "null")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def score(value: object, field: str, *, may_be_off: bool = True) -> float | None:
    """A threshold: a number, or off (None, "", "off")."""
    if value is None or (isinstance(value, str) and value.strip().lower() in OFF):
        if may_be_off:
            return None
        raise InvalidInput(field, Why.REQUIRED())
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(field, Why.NOT_A_SCORE(value=repr(value)))
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(field, Why.NOT_A_SCORE(value=repr(value))) from None
    if not math.isfinite(number):
        raise InvalidInput(field, Why.NOT_A_SCORE(value=repr(value)))
    return number


def flag(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise InvalidInput(field, Why.NOT_A_BOOLEAN())


def days(value: object, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 7:
        return int(value.strip())
    raise InvalidInput(field, Why.NOT_WHOLE_NUMBER(value=repr(value)))


def _unknown(changes: Mapping[str, object], known: tuple[str, ...]) -> None:
    for name in changes:
        if name not in known:
            raise InvalidInput(name, Why.UNKNOWN_FIELD())


def policy_with(base: SpamPolicy, changes: Mapping[str, object], *, also: tuple[str, ...] = ()) -> SpamPolicy:
    """`base` with the fields given in `changes` (fields named as POLICY_FIELDS; `also`:
    other names the caller reads itself). Not yet checked: core/spam.check_policy does."""
    _unknown(changes, (*POLICY_FIELDS, *also))
    values: dict[str, object] = {}
    for name, attribute in POLICY_FIELDS.items():
        if name not in changes:
            continue
        value = changes[name]
        if name == "greylisting":
            values[attribute] = flag(value, name)
        elif name == "quarantine_days":
            values[attribute] = days(value, name)
        else:
            values[attribute] = score(value, name)
    return dataclasses.replace(base, **values)  # type: ignore[arg-type]


def bounds_with(base: PolicyBounds, changes: Mapping[str, object]) -> PolicyBounds:
    """`base` with the bounds given in `changes`, checked: lowest below highest, both in
    the scores' range, at most LONGEST_DAYS days of quarantine."""
    low = score(changes.get("lowest_score", base.lowest_score), "lowest_score", may_be_off=False)
    high = score(changes.get("highest_score", base.highest_score), "highest_score", may_be_off=False)
    longest = days(changes.get("longest_quarantine_days", base.longest_quarantine_days), "longest_quarantine_days")
    may = flag(changes.get("may_disable_greylisting", base.may_disable_greylisting), "may_disable_greylisting")
    assert low is not None and high is not None
    lowest_allowed, highest_allowed = SCORE_RANGE
    for name, value in (("lowest_score", low), ("highest_score", high)):
        if not lowest_allowed <= value <= highest_allowed:
            raise InvalidInput(name, Why.OUT_OF_RANGE(low=f"{lowest_allowed:g}", high=f"{highest_allowed:g}"))
    if high <= low:
        raise InvalidInput("highest_score", Why.SCORE_NOT_ABOVE(other="lowest_score", value=f"{high:g}",
                                                                limit=f"{low:g}"))
    if not 1 <= longest <= LONGEST_DAYS:
        raise InvalidInput("longest_quarantine_days", Why.OUT_OF_RANGE(low=1, high=LONGEST_DAYS))
    return PolicyBounds(low, high, longest, may)


def kind(value: object, field: str = "kind") -> ListKind:
    if isinstance(value, ListKind):
        return value
    if isinstance(value, str):
        for member in ListKind:
            if value.strip().lower() == member.value:
                return member
    raise InvalidInput(field, Why.NOT_A_CHOICE(choices="allow, block", value=repr(value)))


def pattern(value: object, field: str = "pattern") -> str:
    """A sender's address (somchai@example.com) or domain (example.com, its subdomains too),
    normalized as addresses are (lower case, IDNA A-labels)."""
    if not isinstance(value, str):
        raise InvalidInput(field, Why.NOT_A_STRING())
    text = value.strip()
    return normalize_address(text, field) if "@" in text else normalize_domain(text, field)


def policy_data(policy: SpamPolicy) -> dict[str, object]:
    """A policy by its field names (the API's JSON, the CLI's --json, the audit record)."""
    return {name: getattr(policy, attribute) for name, attribute in POLICY_FIELDS.items()}


def bounds_data(bounds: PolicyBounds) -> dict[str, object]:
    return {name: getattr(bounds, name) for name in BOUNDS_FIELDS}
