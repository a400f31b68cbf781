"""How values are shown: sizes, numbers and times in the page's language."""

from __future__ import annotations

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
    return format_datetime(value.astimezone(TIMEZONE), "yyyy-MM-dd HH:mm", locale="th_TH" if lang == "th" else "en_GB")


def percent(part: int | None, whole: int | None) -> str:
    if not part or not whole:
        return "0%"
    return f"{min(999, round(part * 100 / whole))}%"
