"""Passwords over time (issue 20): when a password must be changed before the account may
log in over IMAP and SMTP, and when it expires. No I/O; the clock is passed in.

A domain's lifecycle settings:
- must_change_generated (on by default): a new account whose password was generated must
  change it at its first login (the admin read it, or it went out on paper);
- must_change_on_create (off by default): every new account must, whatever its password;
- max_age_days (None, the default: never): a password set longer ago than this is expired,
  and an expired password must be changed like one marked "change at next login";
- warn_days: a warning goes out by mail this many days before the password expires.

The directory holds the facts (mgtPasswordChangedAt, mgtMustChangePassword on each account):
Dovecot and the relay look at the mark only; `mailgothai password-expiry run` (a systemd
timer) sets the mark on expired passwords and sends the warnings, and the web also compares
the age itself, so its answer never waits for the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

MAX_AGE_DAYS = 3650
MAX_WARN_DAYS = 90
DEFAULT_WARN_DAYS = 14


@dataclass(frozen=True)
class Lifecycle:
    must_change_generated: bool = True
    must_change_on_create: bool = False
    max_age_days: int | None = None
    warn_days: int = DEFAULT_WARN_DAYS

    def __post_init__(self) -> None:
        if self.max_age_days is not None and not 1 <= self.max_age_days <= MAX_AGE_DAYS:
            raise InvalidInput("max_age_days", Why.OUT_OF_RANGE(low=1, high=MAX_AGE_DAYS))
        if not 0 <= self.warn_days <= MAX_WARN_DAYS:
            raise InvalidInput("warn_days", Why.OUT_OF_RANGE(low=0, high=MAX_WARN_DAYS))

    def must_change_new(self, generated: bool) -> bool:
        """Whether a new account starts marked "change at next login"."""
        return self.must_change_on_create or (generated and self.must_change_generated)

    def expires_at(self, changed_at: datetime | None) -> datetime | None:
        """When a password set at changed_at expires (None: never, or not known)."""
        if self.max_age_days is None or changed_at is None:
            return None
        return changed_at + timedelta(days=self.max_age_days)

    def expired(self, changed_at: datetime | None, now: datetime) -> bool:
        expires = self.expires_at(changed_at)
        return expires is not None and expires <= now

    def changed_before(self, now: datetime, days_ahead: int = 0) -> datetime | None:
        """Passwords set at or before this moment expire by now + days_ahead (None: none expire)."""
        if self.max_age_days is None:
            return None
        return now - timedelta(days=self.max_age_days) + timedelta(days=days_ahead)

    def as_dict(self) -> dict[str, object]:
        return {"must_change_generated": self.must_change_generated,
                "must_change_on_create": self.must_change_on_create,
                "max_age_days": self.max_age_days, "warn_days": self.warn_days}


def change_required_text(url: str) -> str:
    """What IMAP, SMTP AUTH and the web tell an account that must change its password
    (no comma: Dovecot's pass_attrs is a comma-separated list)."""
    return f"Password change required: change your password at {url} and log in again"
