"""A mail user's simple filter rules, checked and compiled to a Sieve script (RFC 5228),
and read back from a script MailGoThai wrote. No I/O.

A rule: when the message's sender (its From header: name and address) or its subject
contains a text, move it to a folder (created if missing: RFC 5490's `fileinto :create`),
forward it (a copy stays in the inbox: RFC 3894's `redirect :copy`), or discard it. The
first rule that matches decides: each rule ends with `stop`, so a message is never filed
into two folders, and a message no rule matches stays in the inbox.

The script starts with a header of comments: who wrote it, the rules as JSON (ASCII only,
so a comment line holds it whole) and a checksum of the rest of the script. The web reads
its rules back from that header, and a script whose checksum no longer matches (edited by
hand in a ManageSieve client) is one the web did not write and must not overwrite.

Every value a person typed reaches the script only through `sieve_string`: a quoted string
in which `\\` and `"` are escaped, and which never holds a line break or other control
character (the rules refuse those, and `sieve_string` refuses them again). The script
requires no `variables` or `encoded-character` extension, so `${...}` in a value is text.
"""

from __future__ import annotations

import enum
import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address
from mailgothai.core.reasons import Why
from mailgothai.core.text import check_text
from mailgothai.errors import InvalidInput

SCRIPT_NAME = "mailgothai"  # the web's own script, beside any the user keeps in a ManageSieve client
MAX_RULES = 100
MAX_TEXT = 200  # characters of a "contains" text, and of a folder name

_FIRST_LINE = "# MailGoThai filters: written by the MailGoThai web; change them there."
_SECOND_LINE = "# Edited by hand, this script is yours: the web will not overwrite it."
_RULES_PREFIX = "# mailgothai-rules: "
_CHECKSUM_PREFIX = "# mailgothai-checksum: sha256:"
_FORMAT = 1


class Field(enum.Enum):
    SENDER = "sender"
    SUBJECT = "subject"


class Action(enum.Enum):
    MOVE = "move"
    FORWARD = "forward"
    DISCARD = "discard"


_HEADER_OF = {Field.SENDER: "from", Field.SUBJECT: "subject"}


@dataclass(frozen=True)
class Rule:
    field: Field
    contains: str
    action: Action
    folder: str = ""  # for MOVE
    address: str = ""  # for FORWARD

    def as_data(self) -> dict[str, str]:
        data = {"field": self.field.value, "contains": self.contains, "action": self.action.value}
        if self.action is Action.MOVE:
            data["folder"] = self.folder
        elif self.action is Action.FORWARD:
            data["address"] = self.address
        return data


def _choice(value: object, kind: type[enum.Enum], field: str) -> enum.Enum:
    choices = ", ".join(member.value for member in kind)
    if not isinstance(value, str):
        raise InvalidInput(field, Why.NOT_A_STRING())
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(field, Why.NOT_A_CHOICE(choices=choices, value=repr(value))) from None


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, Why.NOT_A_STRING())
    if not value.strip():
        raise InvalidInput(field, Why.EMPTY())
    return check_text(value, field, MAX_TEXT)


def check_folder(value: object, field: str) -> str:
    """A folder name as Dovecot's mailboxes take it here: parts separated by '/', none
    empty, '.' or '..'; no IMAP wildcard ('*', '%'); UTF-8 (Thai) as it is."""
    folder = _text(value, field)
    parts = folder.split("/")
    if any(not part.strip() or part in (".", "..") for part in parts) or "*" in folder or "%" in folder:
        raise InvalidInput(field, Why.FOLDER_NAME_SHAPE())
    return folder


def check_rules(data: object, own_address: str = "") -> tuple[Rule, ...]:
    """The rules from JSON-like data (a list of objects), or InvalidInput naming the field
    (`rules[2].folder`) and why. `own_address`: forwarding there is refused (a loop)."""
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise InvalidInput("rules", Why.NOT_A_RULE_LIST())
    if len(data) > MAX_RULES:
        raise InvalidInput("rules", Why.TOO_MANY_RULES(max=MAX_RULES))
    rules = []
    for n, item in enumerate(data):
        at = f"rules[{n}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(at, Why.NOT_A_JSON_OBJECT())
        for key in item:
            if key not in ("field", "contains", "action", "folder", "address"):
                raise InvalidInput(f"{at}.{key}", Why.UNKNOWN_FIELD())
        field = _choice(item.get("field"), Field, f"{at}.field")
        contains = _text(item.get("contains"), f"{at}.contains")
        action = _choice(item.get("action"), Action, f"{at}.action")
        assert isinstance(field, Field) and isinstance(action, Action)
        folder = address = ""
        if action is Action.MOVE:
            folder = check_folder(item.get("folder"), f"{at}.folder")
        elif action is Action.FORWARD:
            raw = item.get("address")
            if not isinstance(raw, str):
                raise InvalidInput(f"{at}.address", Why.NOT_A_STRING())
            address = normalize_address(raw, f"{at}.address")
            if own_address and address == own_address.lower():
                raise InvalidInput(f"{at}.address", Why.FORWARD_TO_ITSELF())
        rules.append(Rule(field, contains, action, folder, address))
    return tuple(rules)


def sieve_string(value: str) -> str:
    """A Sieve quoted string holding exactly `value` (RFC 5228 2.4.2: only `\\` and `"`
    are escaped). A control character is refused, not escaped: none belongs in a rule."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise ValueError(f"control character U+{ord(ch):04X} in a Sieve string")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _body(rules: Sequence[Rule]) -> str:
    lines = ['require ["fileinto", "mailbox", "copy"];', ""]
    for n, rule in enumerate(rules, 1):
        lines.append(f"# rule {n}")
        lines.append(f"if header :contains {sieve_string(_HEADER_OF[rule.field])} {sieve_string(rule.contains)} {{")
        if rule.action is Action.MOVE:
            lines.append(f"    fileinto :create {sieve_string(rule.folder)};")
        elif rule.action is Action.FORWARD:
            lines.append(f"    redirect :copy {sieve_string(rule.address)};")
        else:
            lines.append("    discard;")
        lines.append("    stop;")
        lines.append("}")
    return "\n".join(lines) + "\n"


def _checksum(rules_line: str, body: str) -> str:
    return hashlib.sha256(f"{rules_line}\n{body}".encode()).hexdigest()


def compile_rules(rules: Sequence[Rule]) -> str:
    """The Sieve script of the rules, with MailGoThai's header (rules as JSON, checksum)."""
    rules_line = _RULES_PREFIX + json.dumps({"format": _FORMAT, "rules": [r.as_data() for r in rules]},
                                            ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    body = _body(rules)
    return "\n".join([_FIRST_LINE, _SECOND_LINE, rules_line, _CHECKSUM_PREFIX + _checksum(rules_line, body), body])


@dataclass(frozen=True)
class ReadBack:
    """What a script named like the web's holds: its rules, if the web wrote it and
    nobody changed it since (`intact`)."""

    intact: bool
    rules: tuple[Rule, ...] = ()


def read_script(text: str) -> ReadBack:
    """The rules of a script `compile_rules` wrote, if it is unchanged; else not intact."""
    lines = text.replace("\r\n", "\n").split("\n", 4)
    if len(lines) < 5 or lines[0] != _FIRST_LINE or not lines[2].startswith(_RULES_PREFIX) \
            or not lines[3].startswith(_CHECKSUM_PREFIX):
        return ReadBack(False)
    rules_line, body = lines[2], lines[4]
    if lines[3][len(_CHECKSUM_PREFIX):] != _checksum(rules_line, body):
        return ReadBack(False)
    try:
        data = json.loads(rules_line[len(_RULES_PREFIX):])
        rules = check_rules(data["rules"]) if data.get("format") == _FORMAT else None
    except (ValueError, TypeError, KeyError, AttributeError, InvalidInput):
        return ReadBack(False)
    return ReadBack(rules is not None, rules or ())
