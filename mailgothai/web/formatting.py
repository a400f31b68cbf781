"""How values are shown: sizes, numbers and times in the page's language."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal

from mailgothai.core.quota import format_size, format_size_human

TIMEZONE = ZoneInfo("Asia/Bangkok")


def size(value: int | None) -> str:
    return "—" if value is None else format_size_human(int(value))


def size_exact(value: int | None) -> str:
    return "" if value is None else format_size(int(value))


def number(value: int | None, lang: str) -> str:
    return "—" if value is None else format_decimal(value, locale="th_TH" if lang == "th" else "en_GB")


def when(value: datetime | None, lang: str) -> str:
    if value is None:
        return "—"
    return _when(value.replace(second=0, microsecond=0), lang)


@functools.lru_cache(maxsize=4096)
def _when(value: datetime, lang: str) -> str:
    """Readings of a batch share their minute: a page of 50 formats a few, not 50 (Babel
    costs ~0.1 ms a call)."""
    locale = "th_TH" if lang == "th" else "en_GB"
    return format_datetime(value.astimezone(TIMEZONE), "yyyy-MM-dd HH:mm", locale=locale)


def percent(part: int | None, whole: int | None) -> str:
    if not part or not whole:
        return "0%"
    return f"{min(999, round(part * 100 / whole))}%"
