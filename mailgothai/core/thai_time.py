"""Thailand's time, in which the service speaks to its users (UTC+7 all year: no DST)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

THAILAND = timezone(timedelta(hours=7), "ICT")


def minute_text(moment: datetime) -> str:
    """`moment` as Thailand's clock shows it, to the minute: 2026-12-05 07:10."""
    return moment.astimezone(THAILAND).strftime("%Y-%m-%d %H:%M")


def today_in_thailand(now: datetime | None = None) -> date:
    return (now or datetime.now(THAILAND)).astimezone(THAILAND).date()
