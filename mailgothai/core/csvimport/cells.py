"""Cells a spreadsheet would run as a formula, and the guard that makes them text.

Export puts an apostrophe (a spreadsheet's "this is text" marker) before any cell that
starts with ``=``, ``+``, ``-``, ``@``, a TAB or a CR (OWASP's list for CSV injection),
or whose first character after leading white space (spaces, tabs, line breaks: a
spreadsheet may trim them) is one of the first four; and before a cell that already
starts with an apostrophe followed by such a cell or by another apostrophe. Import
removes exactly that one apostrophe, so ``unguard(guard(text)) == text`` for every text:
export then import changes nothing.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@")
CONTROL_STARTS = ("\t", "\r")  # a spreadsheet runs what follows them as a formula too


def _runs(text: str) -> bool:
    """Whether a spreadsheet could take the cell for a formula."""
    return text.startswith(CONTROL_STARTS) or text.lstrip().startswith(FORMULA_STARTS)


def _marked(text: str) -> bool:
    """An apostrophe guard() puts there: before a cell that runs, or before an apostrophe."""
    return text.startswith("'") and (_runs(text[1:]) or text[1:2] == "'")


def guard(text: str) -> str:
    if _runs(text) or _marked(text):
        return "'" + text
    return text


def unguard(text: str) -> str:
    if _marked(text):
        return text[1:]
    return text


# C0 control characters a cell may never hold, in any column: NUL (PostgreSQL's text
# cannot store it) and the others, but TAB and the line breaks a quoted cell may hold
# (the columns that refuse those say so themselves).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f]")


def first_control(cells: list[str]) -> tuple[int, str] | None:
    """(position of the first cell holding a forbidden control character, the character), or None."""
    for position, cell in enumerate(cells):
        found = _CONTROLS.search(cell)
        if found:
            return position, found.group()
    return None


def printable(text: str) -> str:
    """Text as stored or shown beside a refusal: control characters written as \\xNN."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
