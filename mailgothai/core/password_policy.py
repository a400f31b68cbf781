"""What a new password must be (issue 20): a policy per domain, the operator's floor under
every domain, and the check of one password against a policy and its account's names.

A policy: a minimum length; the character classes that must appear (lower case, upper
case, digits, other) and how many classes at least; whether the password may contain the
account's address, local part or names; and a floor on zxcvbn's estimate of how hard it
is to guess (score 0-4). The built-in floor is the government rule of 2017 — at least 8
characters with upper case, lower case and digits — with score 2 ("somewhat guessable":
about 10^8 guesses), which refuses "Password1" and "Somchai2024" but takes a passphrase.

Character classes are Unicode's: lower = Ll, upper = Lu, digit = Nd (Thai digits too),
other = everything else — Thai letters, which have no case, count as "other".

A domain's own policy may only tighten the floor (`check_tightens`); what a password is
checked against is `strictest(own, floor)`, so a floor raised later applies at once to
domains that set theirs before.

No I/O. zxcvbn is pure Python; it is given at most ZXCVBN_MAX characters (its own limit:
it refuses longer input, and its time grows with the length); a longer password is
judged by its first ZXCVBN_MAX characters, which only under-estimates it.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zxcvbn import zxcvbn

from mailgothai.core.passwords import MAX_LENGTH, MIN_LENGTH, check_password_policy, generate_password
from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import InvalidInput

ZXCVBN_MAX = 72  # zxcvbn 4.5's max_length: it raises ValueError beyond
MAX_MIN_LENGTH = 64  # the longest minimum a policy may ask (generated passwords follow it)
MIN_FRAGMENT = 3  # a name or address part shorter than this is not looked for (too common)
GENERATED_LENGTH = 16
GENERATE_ATTEMPTS = 200


class CharClass(enum.StrEnum):
    LOWER = "lower"
    UPPER = "upper"
    DIGIT = "digit"
    OTHER = "other"


CLASS_ORDER = (CharClass.LOWER, CharClass.UPPER, CharClass.DIGIT, CharClass.OTHER)
_MISSING = {CharClass.LOWER: Why.PASSWORD_NO_LOWER, CharClass.UPPER: Why.PASSWORD_NO_UPPER,
            CharClass.DIGIT: Why.PASSWORD_NO_DIGIT, CharClass.OTHER: Why.PASSWORD_NO_OTHER}


def class_of(char: str) -> CharClass:
    category = unicodedata.category(char)
    if category == "Ll":
        return CharClass.LOWER
    if category == "Lu":
        return CharClass.UPPER
    if category == "Nd":
        return CharClass.DIGIT
    return CharClass.OTHER


@dataclass(frozen=True)
class PasswordPolicy:
    """Defaults: the operator's built-in floor (the 2017 rule, zxcvbn score 2)."""

    min_length: int = MIN_LENGTH
    required: frozenset[CharClass] = frozenset({CharClass.LOWER, CharClass.UPPER, CharClass.DIGIT})
    min_classes: int = 3
    forbid_personal: bool = True
    min_strength: int = 2

    def __post_init__(self) -> None:
        check_values(self)

    @property
    def classes_needed(self) -> int:
        return max(self.min_classes, len(self.required))


@dataclass(frozen=True)
class Person:
    """Whose password it is: what it must not contain."""

    email: str
    given_name: str = ""
    surname: str = ""
    display_name: str = ""


FIELDS = ("min_length", "required_classes", "min_classes", "forbid_personal", "min_strength")


def check_values(policy: PasswordPolicy) -> None:
    """Each field within what any policy may say (InvalidInput naming the field)."""
    if not MIN_LENGTH <= policy.min_length <= MAX_MIN_LENGTH:
        raise InvalidInput("min_length", Why.OUT_OF_RANGE(low=MIN_LENGTH, high=MAX_MIN_LENGTH))
    if not 0 <= policy.min_classes <= len(CharClass):
        raise InvalidInput("min_classes", Why.OUT_OF_RANGE(low=0, high=len(CharClass)))
    if not 0 <= policy.min_strength <= 4:
        raise InvalidInput("min_strength", Why.OUT_OF_RANGE(low=0, high=4))


def check_tightens(policy: PasswordPolicy, floor: PasswordPolicy) -> PasswordPolicy:
    """A domain's own policy: every field at least as strict as the floor, else refused
    with the field and the floor's value."""
    if policy.min_length < floor.min_length:
        raise InvalidInput("min_length", Why.POLICY_BELOW_FLOOR(floor=floor.min_length))
    missing = floor.required - policy.required
    if missing:
        raise InvalidInput("required_classes", Why.POLICY_CLASSES_BELOW_FLOOR(
            classes=", ".join(c.value for c in CLASS_ORDER if c in floor.required)))
    if policy.classes_needed < floor.classes_needed:
        raise InvalidInput("min_classes", Why.POLICY_BELOW_FLOOR(floor=floor.classes_needed))
    if floor.forbid_personal and not policy.forbid_personal:
        raise InvalidInput("forbid_personal", Why.POLICY_FLOOR_FORBIDS_PERSONAL())
    if policy.min_strength < floor.min_strength:
        raise InvalidInput("min_strength", Why.POLICY_BELOW_FLOOR(floor=floor.min_strength))
    return policy


def strictest(own: PasswordPolicy | None, floor: PasswordPolicy) -> PasswordPolicy:
    """What a domain's passwords are checked against: each field the stricter of the two."""
    if own is None:
        return floor
    return PasswordPolicy(
        min_length=max(own.min_length, floor.min_length), required=own.required | floor.required,
        min_classes=max(own.min_classes, floor.min_classes),
        forbid_personal=own.forbid_personal or floor.forbid_personal,
        min_strength=max(own.min_strength, floor.min_strength))


# ---- reading what an admin typed ------------------------------------------------------------

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _number(value: object, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 4:
        return int(value.strip())
    raise InvalidInput(field, Why.NOT_WHOLE_NUMBER(value=repr(value)))


def _flag(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInput(field, Why.NOT_A_BOOLEAN())


def _classes(value: object, field: str) -> frozenset[CharClass]:
    """A list of class names, or one string of them separated by commas or spaces."""
    if isinstance(value, str):
        names: Iterable[object] = [n for n in re.split(r"[,\s]+", value.strip()) if n]
    elif isinstance(value, list | tuple | set | frozenset):
        names = value
    else:
        raise InvalidInput(field, Why.NOT_A_STRING_LIST())
    out = set()
    for name in names:
        try:
            if not isinstance(name, str):
                raise ValueError(name)
            out.add(CharClass(name.strip().lower()))
        except ValueError:
            raise InvalidInput(field, Why.NOT_A_CHOICE(choices=", ".join(CLASS_ORDER), value=repr(name))) from None
    return frozenset(out)


def policy_with(base: PasswordPolicy, changes: Mapping[str, object]) -> PasswordPolicy:
    """`base` with the fields given (named as FIELDS), each read and range-checked."""
    for name in changes:
        if name not in FIELDS:
            raise InvalidInput(name, Why.UNKNOWN_FIELD())
    values: dict[str, object] = {}
    for name in ("min_length", "min_classes", "min_strength"):
        if name in changes:
            values[name] = _number(changes[name], name)
    if "required_classes" in changes:
        values["required"] = _classes(changes["required_classes"], "required_classes")
    if "forbid_personal" in changes:
        values["forbid_personal"] = _flag(changes["forbid_personal"], "forbid_personal")
    return dataclasses.replace(base, **values)  # type: ignore[arg-type]


def policy_data(policy: PasswordPolicy) -> dict[str, object]:
    """A policy by its field names (the API's JSON, the CLI's --json, the audit record)."""
    return {"min_length": policy.min_length,
            "required_classes": [c.value for c in CLASS_ORDER if c in policy.required],
            "min_classes": policy.min_classes, "forbid_personal": policy.forbid_personal,
            "min_strength": policy.min_strength}


def policy_from_data(data: Mapping[str, object]) -> PasswordPolicy:
    return policy_with(PasswordPolicy(), data)


# ---- checking a password --------------------------------------------------------------------

def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def personal_fragments(person: Person) -> list[str]:
    """What the password must not contain, folded: the address, its local part and the
    local part's pieces (split at . _ - +), the given name, the surname and each word of
    the display name; the parts shorter than MIN_FRAGMENT are left out."""
    email = _fold(person.email.strip())
    local = email.rpartition("@")[0] if "@" in email else email
    parts = [email, local, *re.split(r"[._+\-]+", local)]
    for name in (person.given_name, person.surname, person.display_name):
        parts += _fold(name).split()
    seen: list[str] = []
    for part in parts:
        if len(part) >= MIN_FRAGMENT and part not in seen:
            seen.append(part)
    return seen


def strength(password: str, user_inputs: list[str] | None = None) -> int:
    """zxcvbn's score (0-4) of the first ZXCVBN_MAX characters."""
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=user_inputs or [])
    return int(result["score"])


def problems(password: str, policy: PasswordPolicy, person: Person | None = None) -> list[Reason]:
    """Every reason the password does not meet the policy (empty: it does). The form
    (control characters, at most MAX_LENGTH) is checked first, by core/passwords.py."""
    try:
        check_password_policy(password)
    except InvalidInput as exc:
        if exc.why.why is not Why.TOO_SHORT:  # the policy's own minimum says it below
            return [exc.why]
    found: list[Reason] = []
    if len(password) < policy.min_length:
        found.append(Why.TOO_SHORT(n=policy.min_length))
    present = {class_of(c) for c in password}
    missing = [cls for cls in CLASS_ORDER if cls in policy.required and cls not in present]
    found += [_MISSING[cls]() for cls in missing]
    if not missing and len(present) < policy.classes_needed:
        found.append(Why.PASSWORD_FEW_CLASSES(n=policy.classes_needed, found=len(present)))
    fragments = personal_fragments(person) if person is not None else []
    if policy.forbid_personal and fragments:
        folded = _fold(password)
        hit = next((f for f in fragments if f in folded), None)
        if hit is not None:
            found.append(Why.PASSWORD_PERSONAL(part=repr(hit)))
    if policy.min_strength > 0 and not found:  # the costly estimate only when the rest passed
        score = strength(password, fragments)
        if score < policy.min_strength:
            found.append(Why.PASSWORD_TOO_GUESSABLE(score=score, min=policy.min_strength))
    return found


def require(password: str, policy: PasswordPolicy, person: Person | None = None, field: str = "password") -> None:
    """InvalidInput(field, the first reason) unless the password meets the policy."""
    found = problems(password, policy, person)
    if found:
        raise InvalidInput(field, found[0])


def generate_for(policy: PasswordPolicy, person: Person | None = None) -> str:
    """A random password that meets the policy: GENERATED_LENGTH characters (or the
    policy's minimum, if longer) with all four classes; drawn again in the rare case it
    happens to contain a name."""
    length = min(MAX_LENGTH, max(GENERATED_LENGTH, policy.min_length))
    for _ in range(GENERATE_ATTEMPTS):
        candidate = generate_password(length)
        if not problems(candidate, policy, person):
            return candidate
    raise RuntimeError("no generated password met the policy")  # never seen: see tests/unit/test_password_policy.py
