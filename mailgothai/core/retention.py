"""Accounts over time, as rules with no I/O: a mailbox's identity, how long a deleted
account is kept, when it may be purged, and where its mail goes when it is handed over.

A mailbox belongs to its account, never to its address: its identity is the account
entry's entryUUID (RFC 4530), which slapd gives the entry when it is added and which no
client can write. Deleting an account moves the entry into retention with that identity;
its mailbox stays where it is until the purge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
MAX_HOLD_REASON = 1024
HANDOVER_PARENT = "Archive"

_MAILBOX_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Characters an IMAP folder name keeps as they are; any other is written as Dovecot's
# listescape plugin reads it (\XX, two hex digits), so '/' (the folder separator) and the
# IMAP wildcards '*' and '%' of an address stay inside one folder name.
_FOLDER_SAFE = re.compile(r"[A-Za-z0-9.@_+=&'#$!^`{|}~-]")


def looks_like_mailbox_id(text: str) -> bool:
    return bool(_MAILBOX_ID.match(text.strip().lower()))


def parse_mailbox_id(text: str, field: str = "mailbox_id") -> str:
    """A mailbox id as slapd writes an entryUUID: lower-case hex in 8-4-4-4-12 groups."""
    value = text.strip().lower()
    if not _MAILBOX_ID.match(value):
        raise InvalidInput(field, Why.NOT_A_MAILBOX_ID(value=repr(text)))
    return value


def parse_retention_days(value: int | str, field: str = "retention_days") -> int:
    """Days a deleted account is kept: a whole number from 0 (purged at the next purge) to 3650."""
    try:
        days = int(str(value).strip())
    except ValueError:
        raise InvalidInput(field, Why.NOT_WHOLE_DAYS(value=repr(value))) from None
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(field, Why.DAYS_OUT_OF_RANGE(max=MAX_RETENTION_DAYS, value=days))
    return days


def check_hold_reason(text: str, field: str = "reason") -> str:
    reason = " ".join(text.split())
    if not reason:
        raise InvalidInput(field, Why.HOLD_UNEXPLAINED())
    if len(reason) > MAX_HOLD_REASON:
        raise InvalidInput(field, Why.TEXT_TOO_LONG(max=MAX_HOLD_REASON, length=len(reason)))
    if any(ord(c) < 32 or ord(c) == 127 for c in reason):
        raise InvalidInput(field, Why.CONTROL_CHARACTER())
    return reason


def purge_date(deleted_at: datetime, retention_days: int) -> datetime:
    """When a deletion made at deleted_at may be purged. Fixed at deletion: a later change
    of the domain's period applies to later deletions (a hold keeps mail longer)."""
    return deleted_at + timedelta(days=retention_days)


@dataclass(frozen=True)
class PurgeVerdict:
    purge: bool
    reason: str  # why not, when it is kept


def purge_verdict(purge_after: datetime, now: datetime, account_hold: str, domain_hold: str) -> PurgeVerdict:
    """Whether a deleted account may be purged now. A hold on the account or on its domain
    keeps it whatever its date."""
    if account_hold:
        return PurgeVerdict(False, f"on legal hold: {account_hold}")
    if domain_hold:
        return PurgeVerdict(False, f"its domain is on legal hold: {domain_hold}")
    if purge_after > now:
        return PurgeVerdict(False, f"kept until {purge_after.isoformat()}")
    return PurgeVerdict(True, "")


def handover_folder(address: str, taken: frozenset[str] = frozenset()) -> str:
    """The folder of the successor's mailbox that receives a deleted account's mail:
    Archive/<old address>, or Archive/<old address> (2), (3)... when that name is taken
    (the same role address handed over before)."""
    escaped = "".join(c if _FOLDER_SAFE.match(c) else "".join(f"\\{b:02x}" for b in c.encode()) for c in address)
    base = f"{HANDOVER_PARENT}/{escaped}"
    name, n = base, 1
    while name.lower() in {t.lower() for t in taken}:
        n += 1
        name = f"{base} ({n})"
    return name
