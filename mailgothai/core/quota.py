"""Sizes (quotas, pools, message sizes): parsing user text and formatting for export and display.

Units are binary: K = KB = KiB = 1024 bytes, M = 1024 K, and so on up to P.
``parse_size(format_size(n)) == n`` for every ``0 <= n <= MAX_SIZE``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from mailgothai.errors import InvalidInput

UNITS: dict[str, int] = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
MAX_SIZE = 1024**5  # 1 PiB
_BIGGEST_FIRST = sorted(UNITS.items(), key=lambda kv: kv[1], reverse=True)

_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGTP])(?:I?B)?|(B))?", re.ASCII | re.IGNORECASE)
_UNIT_ONLY = re.compile(r"(?:[KMGTP](?:I?B)?|B)", re.ASCII | re.IGNORECASE)
_HINT = "use bytes or a number with K, M, G or T, e.g. 500M or 2G"


def _checked(n: int, field: str) -> int:
    if n < 0:
        raise InvalidInput(field, "must not be negative")
    if n > MAX_SIZE:
        raise InvalidInput(field, f"larger than the maximum {format_size(MAX_SIZE)}")
    return n


def parse_size(text: str | int, field: str = "quota") -> int:
    """Bytes from ``"1048576"``, ``"500M"``, ``"1.5 GiB"``, ``"2g"``...; InvalidInput otherwise."""
    if isinstance(text, bool):
        raise InvalidInput(field, "not a size")
    if isinstance(text, int):
        return _checked(text, field)
    if not isinstance(text, str):
        raise InvalidInput(field, "not a size")
    value = text.strip()
    if not value:
        raise InvalidInput(field, "is empty")
    if value.startswith("-"):
        raise InvalidInput(field, "must not be negative")
    if _UNIT_ONLY.fullmatch(value):
        raise InvalidInput(field, f"{value!r} has a unit but no number")
    m = _SIZE.fullmatch(value)
    if not m:
        raise InvalidInput(field, f"not a size: {value!r} ({_HINT})")
    number, unit = m.group(1), m.group(2)
    if len(number.partition(".")[0].lstrip("0")) > 20:  # also keeps int() away from huge digit strings
        raise InvalidInput(field, f"larger than the maximum {format_size(MAX_SIZE)}")
    if unit is None:
        if "." in number:
            raise InvalidInput(field, f"a fraction of a byte: {value!r} (a decimal number needs a unit)")
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
