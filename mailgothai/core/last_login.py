"""An account's last login (issue 17): when, over which protocol, from where. Pure.

The time is kept in whole milliseconds since the epoch (`seen_ms`); 0 stands for "never
logged in", which sorts before every real login, so a listing by last login, oldest first,
starts with the accounts that never logged in (by address), and newest first ends with them
(the same list reversed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

PROTOCOLS = ("imap", "pop3", "smtp", "web")
NEVER = 0
MAX_INACTIVE_DAYS = 36500


@dataclass(frozen=True)
class LastLogin:
    at: datetime
    protocol: str  # one of PROTOCOLS
    source: str  # the client's address as the server saw it

    @property
    def seen_ms(self) -> int:
        return to_ms(self.at)


@dataclass(frozen=True)
class LoginEvent:
    """One successful login as a server saw it, before it is matched to an account."""

    login: str  # what the client logged in as (an address)
    protocol: str
    source: str
    seen_ms: int


@dataclass(frozen=True)
class Owner:
    """The account a login belongs to: its mailbox id, address and domain."""

    mailbox_id: str
    address: str
    domain: str


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(seen_ms: int) -> datetime:
    return datetime.fromtimestamp(seen_ms / 1000, UTC)


def mail_client_protocol(dovecot_protocol: str) -> str | None:
    """What a login Dovecot reports counts as: "imap" or "pop3" (a mail client's), None for
    the others (a ManageSieve client, doveadm's own test): not recorded."""
    name = dovecot_protocol.strip().lower() or "imap"
    return name if name in ("imap", "pop3") else None


def protocol_name(raw: str) -> str:
    """Dovecot's protocol names (imap, pop3) and our own; anything else as "imap" (the
    protocol Dovecot serves here), never an unbounded string."""
    name = raw.strip().lower()
    return name if name in PROTOCOLS else "imap"


def inactive_cutoff(days: int | str, now: datetime) -> datetime:
    """Accounts with no login since this moment are inactive for `days` days."""
    try:
        count = int(str(days))
    except ValueError:
        raise InvalidInput("inactive_days", Why.NOT_WHOLE_NUMBER(value=repr(days))) from None
    if count < 1:
        raise InvalidInput("inactive_days", Why.NOT_ABOVE_ZERO())
    if count > MAX_INACTIVE_DAYS:
        raise InvalidInput("inactive_days", Why.OUT_OF_RANGE(low=1, high=MAX_INACTIVE_DAYS))
    return now - timedelta(days=count)
