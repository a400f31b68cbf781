"""Sizes (quotas, pools, message sizes): parsing user text and formatting for export and display.

Units are binary: K = KB = KiB = 1024 bytes, M = 1024 K, and so on up to P.
``parse_size(format_size(n)) == n`` for every ``0 <= n <= MAX_SIZE``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

UNITS: dict[str, int] = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
MAX_SIZE = 1024**5  # 1 PiB
_BIGGEST_FIRST = sorted(UNITS.items(), key=lambda kv: kv[1], reverse=True)

_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGTP])(?:I?B)?|(B))?", re.ASCII | re.IGNORECASE)
_UNIT_ONLY = re.compile(r"(?:[KMGTP](?:I?B)?|B)", re.ASCII | re.IGNORECASE)


def _checked(n: int, field: str) -> int:
    if n < 0:
        raise InvalidInput(field, Why.NEGATIVE())
    if n > MAX_SIZE:
        raise InvalidInput(field, Why.ABOVE_MAXIMUM(max=format_size(MAX_SIZE)))
    return n


def parse_size(text: str | int, field: str = "quota") -> int:
    """Bytes from ``"1048576"``, ``"500M"``, ``"1.5 GiB"``, ``"2g"``...; InvalidInput otherwise."""
    if isinstance(text, bool):
        raise InvalidInput(field, Why.NOT_A_SIZE())
    if isinstance(text, int):
        return _checked(text, field)
    if not isinstance(text, str):
        raise InvalidInput(field, Why.NOT_A_SIZE())
    value = text.strip()
    if not value:
        raise InvalidInput(field, Why.EMPTY())
    if value.startswith("-"):
        raise InvalidInput(field, Why.NEGATIVE())
    if _UNIT_ONLY.fullmatch(value):
        raise InvalidInput(field, Why.UNIT_WITHOUT_NUMBER(value=repr(value)))
    m = _SIZE.fullmatch(value)
    if not m:
        raise InvalidInput(field, Why.SIZE_UNREADABLE(value=repr(value)))
    number, unit = m.group(1), m.group(2)
    if len(number.partition(".")[0].lstrip("0")) > 20:  # also keeps int() away from huge digit strings
        raise InvalidInput(field, Why.ABOVE_MAXIMUM(max=format_size(MAX_SIZE)))
    if unit is None:
        if "." in number:
            raise InvalidInput(field, Why.FRACTION_OF_BYTE(value=repr(value)))
        return _checked(int(number), field)
    return _checked(int(Decimal(number) * UNITS[unit.upper()]), field)


def format_size(n: int) -> str:
    """Exact text for export: the largest unit that divides ``n`` ("2G", "1536M"), else plain bytes."""
    if n < 0:
        raise ValueError(f"negative size: {n}")
    if n == 0:
        return "0"
    for suffix, unit in _BIGGEST_FIRST:
        if n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def format_size_human(n: int) -> str:
    """Approximate text for people: "1.5 GiB", "500 MiB", "12 B" (one decimal at most)."""
    if n < 0:
        raise ValueError(f"negative size: {n}")
    for i, (suffix, unit) in enumerate(_BIGGEST_FIRST):
        if n >= unit:
            shown = round(n / unit, 1)
            if shown >= 1024 and i > 0:  # 1023.96 KiB shows as 1 MiB, not 1024.0 KiB
                suffix, shown = _BIGGEST_FIRST[i - 1][0], round(n / _BIGGEST_FIRST[i - 1][1], 1)
            text = f"{shown:.1f}".removesuffix(".0")
            return f"{text} {suffix}iB"
    return f"{n} B"
