"""An account's out-of-office reply (issue 17): checked here, written as a Sieve script
(RFC 5230 `vacation`, RFC 5260 `date` for the start and end days).

The script is the account's own, kept apart from the scripts its user edits (see
mailstore/vacation.py and ARCHITECTURE.md): Dovecot runs it after the operator's scripts
and before the user's own. Its first lines hold the settings as JSON, so that what is set
can be shown again exactly (`read_script`).

Pigeonhole's `vacation` itself answers at most once per sender per `:days`, never to <>,
to mailing lists (List-Id and the like), to `Precedence: bulk/list/junk`, to
`Auto-Submitted` other than `no`, nor to mail not addressed to one of `:addresses` (RFC
5230 4.5 and 4.6; each checked by tests/relay/test_vacation_replies.py). The script itself
leaves out no-reply senders (noreply@…, no-reply@…, do-not-reply@… and the like), which
RFC 5230 only suggests and Pigeonhole's documentation does not promise.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

MAX_SUBJECT = 200  # characters
MAX_MESSAGE = 8000  # characters
DEFAULT_DAYS = 7  # RFC 5230 4.1's default period: one reply per sender a week
MIN_DAYS, MAX_DAYS = 1, 30
# Thailand's time (no daylight saving): a start or end day is a day in Thailand.
ZONE = "+0700"
NO_REPLY_LOCALPARTS = ("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply")

_FIRST_LINE = "# MailGoThai out-of-office reply: written by `mailgothai vacation` and the web; change it there."
_SETTINGS_PREFIX = "# settings: "
_FORMAT = 1


@dataclass(frozen=True)
class Vacation:
    subject: str
    message: str
    start: date | None = None  # from this day on (None: from now)
    end: date | None = None  # up to and including this day (None: until turned off)
    days: int = DEFAULT_DAYS  # at most one reply per sender in this many days
    addresses: tuple[str, ...] = ()  # the account's own addresses (Pigeonhole's :addresses)

    def as_data(self) -> dict[str, object]:
        return {"subject": self.subject, "message": self.message,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "reply_days": self.days,
                "addresses": list(self.addresses)}

    def in_effect(self, today: date) -> bool:
        """Replies go out on `today` (a day in Thailand)."""
        return (self.start is None or self.start <= today) and (self.end is None or today <= self.end)


def parse_day(value: object, field: str) -> date | None:
    """YYYY-MM-DD (or a date, or empty for none)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InvalidInput(field, Why.NOT_A_DATE(value=repr(value)))
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(field, Why.NOT_A_DATE(value=value[:40])) from exc


def _text(value: object, field: str, limit: int, *, lines: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, Why.NOT_A_STRING())
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InvalidInput(field, Why.EMPTY())
    if len(text) > limit:
        raise InvalidInput(field, Why.TEXT_TOO_LONG(max=limit, length=len(text)))
    allowed = ("\n", "\t") if lines else ()
    for ch in text:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
            raise InvalidInput(field, Why.TEXT_CONTROL_CHARACTER(code=f"{ord(ch):04X}"))
    return text


def check_vacation(subject: object, message: object, start: object = None, end: object = None,
                   days: object = None, *, addresses: tuple[str, ...] = (), today: date | None = None) -> Vacation:
    """A Vacation from what a person typed; InvalidInput naming the first bad field."""
    checked_subject = _text(subject, "subject", MAX_SUBJECT, lines=False).strip()
    checked_message = _text(message, "message", MAX_MESSAGE, lines=True)
    first, last = parse_day(start, "start"), parse_day(end, "end")
    if first and last and last < first:
        raise InvalidInput("end", Why.VACATION_END_BEFORE_START(end=last.isoformat(), start=first.isoformat()))
    if last and today and last < today:
        raise InvalidInput("end", Why.VACATION_END_PASSED(end=last.isoformat()))
    if days is None or days == "":
        period = DEFAULT_DAYS
    else:
        try:
            period = int(str(days).strip())
        except ValueError as exc:
            raise InvalidInput("reply_days", Why.OUT_OF_RANGE(low=MIN_DAYS, high=MAX_DAYS)) from exc
        if not MIN_DAYS <= period <= MAX_DAYS:
            raise InvalidInput("reply_days", Why.OUT_OF_RANGE(low=MIN_DAYS, high=MAX_DAYS))
    return Vacation(checked_subject, checked_message, first, last, period, tuple(addresses))


def _string(value: str) -> str:
    """A Sieve quoted string holding exactly `value` (RFC 5228 2.4.2: `\\` and `"` escaped;
    line breaks may stand in it as they are)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_script(vacation: Vacation) -> str:
    """The Sieve script of the reply, with the settings on its second line."""
    settings = json.dumps({"format": _FORMAT, **vacation.as_data()}, ensure_ascii=True, separators=(",", ":"),
                          sort_keys=True)
    tests = [f"not envelope :localpart :is \"from\" [{', '.join(_string(n) for n in NO_REPLY_LOCALPARTS)}]"]
    if vacation.start:
        tests.append(f'currentdate :zone "{ZONE}" :value "ge" "date" {_string(vacation.start.isoformat())}')
    if vacation.end:
        tests.append(f'currentdate :zone "{ZONE}" :value "le" "date" {_string(vacation.end.isoformat())}')
    addresses = ", ".join(_string(a) for a in vacation.addresses)
    lines = [
        _FIRST_LINE,
        _SETTINGS_PREFIX + settings,
        'require ["vacation", "date", "relational", "envelope"];',
        "if allof (" + ",\n          ".join(tests) + ") {",
        f"    vacation :days {vacation.days} :subject {_string(vacation.subject)}"
        + (f" :addresses [{addresses}]" if addresses else ""),
        f"        {_string(vacation.message)};",
        "}",
        "",
    ]
    return "\n".join(lines)


def read_script(text: str) -> Vacation | None:
    """The settings `render_script` wrote into `text`; None if it holds none."""
    lines = text.replace("\r\n", "\n").split("\n", 2)
    if len(lines) < 2 or lines[0] != _FIRST_LINE or not lines[1].startswith(_SETTINGS_PREFIX):
        return None
    try:
        data = json.loads(lines[1][len(_SETTINGS_PREFIX):])
        if data.get("format") != _FORMAT:
            return None
        return Vacation(str(data["subject"]), str(data["message"]), parse_day(data.get("start"), "start"),
                        parse_day(data.get("end"), "end"), int(data["reply_days"]),
                        tuple(str(a) for a in data.get("addresses", ())))
    except (ValueError, TypeError, KeyError, AttributeError, InvalidInput):
        return None
