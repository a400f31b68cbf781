"""Free-text fields (names, descriptions): stored exactly as given, if acceptable."""

from __future__ import annotations

import unicodedata

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

MAX_NAME_LENGTH = 256


def check_text(value: str, field: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Return value unchanged, or raise InvalidInput naming the field and the reason.

    Control characters (NUL, line breaks, tabs, ...) are refused: they break LDIF,
    CSV and mail headers. Leading and trailing spaces are kept, as given.
    """
    if len(value) > max_length:
        raise InvalidInput(field, Why.TEXT_TOO_LONG(max=max_length, length=len(value)))
    if value.isprintable():  # control characters (Cc) and surrogates (Cs) are all unprintable
        return value
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise InvalidInput(field, Why.TEXT_CONTROL_CHARACTER(code=f"{ord(ch):04X}"))
    return value
