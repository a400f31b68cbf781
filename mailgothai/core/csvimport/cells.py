"""Cells a spreadsheet would run as a formula, and the guard that makes them text.

Export puts an apostrophe (a spreadsheet's "this is text" marker) before any cell that
starts with ``=``, ``+``, ``-`` or ``@``, and before a cell that already starts with an
apostrophe followed by one of those or another apostrophe. Import removes exactly that
one apostrophe, so ``unguard(guard(text)) == text`` for every text: export then import
changes nothing.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@")
_AFTER_MARK = (*FORMULA_STARTS, "'")


def guard(text: str) -> str:
    if text.startswith(FORMULA_STARTS) or (text.startswith("'") and text[1:2] in _AFTER_MARK and text[1:2]):
        return "'" + text
    return text


def unguard(text: str) -> str:
    if text.startswith("'") and text[1:2] and text[1:2] in _AFTER_MARK:
        return text[1:]
    return text
