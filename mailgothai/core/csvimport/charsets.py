"""The encodings an import may be read in, and whether text read as Thai Windows is Thai.

Bytes alone tell UTF-8 apart (anything else almost never decodes as UTF-8), but not
Thai Windows (cp874/TIS-620) from Western European Windows-1252 or Latin-1: cp874 gives
almost every high byte a Thai character, so "Jörg" saved as Latin-1 reads as "J๖rg"
without an error. `not_thai` looks at text read as cp874 for what Thai text never has,
and what Western names read as cp874 nearly always give:

1. **A lone Thai character stuck to a Latin letter** — a run of exactly one Thai code
   point with a Latin letter (A-Z, a-z) right before or after it ("J๖rg" from "Jörg",
   "ษmile" from "Émile", "Fran็ois" from "François"), or any run of Thai code points
   with Latin letters on both sides ("Bj๘rn"). A Western name has one accented letter
   here and there inside a Latin word; Thai words are runs of several Thai letters, and
   a Thai name next to a Latin one is separated by a space or a sign ("คุณJohn" is a run
   of three, not flagged).
2. **A Thai vowel sign or tone mark that follows no Thai consonant.** The signs written
   above or below a consonant (U+0E31, U+0E34-U+0E3A, U+0E47-U+0E4E) and SARA AM
   (U+0E33) come after a consonant or after another such sign (consonant, vowel sign,
   tone mark). After a Latin letter, a space or at the start of a cell they are accented
   Latin letters read wrongly: é (E9) is MAI THO, è (E8) MAI EK, ë (EB) MAI CHATTAWA,
   Ñ (D1) MAI HAN-AKAT, Ø (D8) SARA U, Ó (D3) SARA AM.
3. **Signs cp874 maps that names never use**: FONGMAN ๏ (U+0E4F, from ï), ANGKHANKHU ๚
   (U+0E5A, from ú), KHOMUT ๛ (U+0E5B, from û), signs of verse and scripture.

Bytes that cp874 leaves undefined (81-84, 86-90, 98-9F, DB-DE, FC-FF: ü, ÿ, Ü, ß's
neighbours) do not decode at all and are refused before this. The rules look at single
characters and their neighbours only, so they cost one pass of a byte table; what
they cannot see is a file whose every accented letter stands alone between spaces
(a lone "à"): such a file has nothing else wrong to show either. A Thai file they would
refuse by mistake (a name glued to one Latin letter) can still be read with its encoding
given explicitly (`--encoding cp874`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import InvalidInput

# The names an operator may give (CLI --encoding, the upload's encoding field), lower
# case without "_", and the codec each means. TIS-620 is read as cp874, its superset.
ENCODINGS: dict[str, str] = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8-sig",
    "cp874": "cp874", "windows-874": "cp874", "tis-620": "cp874", "tis620": "cp874",
    "cp1252": "cp1252", "windows-1252": "cp1252",
    "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1",
    "iso-8859-15": "iso8859-15", "latin-9": "iso8859-15",
}
OFFERED_ENCODINGS = ("utf-8", "cp874", "cp1252", "latin-1", "iso-8859-15")  # what help texts list


def encoding_named(name: str) -> str:
    """The codec for a name an operator gave; InvalidInput("encoding", ...) if unknown."""
    codec = ENCODINGS.get(name.strip().lower().replace("_", "-"))
    if codec is None:
        raise InvalidInput("encoding", Why.UNKNOWN_ENCODING(name=name.strip(), names=", ".join(OFFERED_ENCODINGS)))
    return codec


# Each byte of cp874 text by what it is (cp874 is one byte a character, so a byte's
# offset is its character's): C a Thai consonant (A1-CE: ก-ฮ), S a sign written above or
# below one, or SARA AM (D1, D3-DA, E7-EE), N a sign names never use (EF ๏, FA ๚, FB ๛),
# T any other Thai character (vowels before or after, digits, ฯ ๆ ฿), L a Latin letter
# A-Z a-z, and "." anything else. A byte table does it in one pass at memory speed; the
# rules are then a few searches for two-letter patterns in that string of classes.
_KINDS = {"C": range(0xA1, 0xCF), "S": (0xD1, *range(0xD3, 0xDB), *range(0xE7, 0xEF)),
          "N": (0xEF, 0xFA, 0xFB), "T": (0xCF, 0xD0, 0xD2, *range(0xDF, 0xE7), *range(0xF0, 0xFA)),
          "L": (*range(0x41, 0x5B), *range(0x61, 0x7B))}
_TABLE = bytearray(b"." * 256)
for _kind, _codes in _KINDS.items():
    for _code in _codes:
        _TABLE[_code] = ord(_kind)
_CLASSES = bytes(_TABLE)
_THAI_AS_T = bytes.maketrans(b"CSN", b"TTT")

LONE_SIGN = Why.THAI_MARK_ALONE()
IN_LATIN_WORD = Why.THAI_IN_LATIN_WORD()
NEVER_USED = Why.THAI_VERSE_SIGN()


@dataclass(frozen=True)
class NotThai:
    """Where text read as cp874 stops looking like Thai: bytes (= characters)
    [start, end), and why."""

    start: int
    end: int
    why: Reason


def _lone_sign(kinds: bytes) -> NotThai | None:
    if kinds[:1] == b"S":
        return NotThai(0, 1, LONE_SIGN)
    found = [i for i in (kinds.find(before + b"S") for before in (b".", b"L", b"T", b"N")) if i >= 0]
    return NotThai(min(found) + 1, min(found) + 2, LONE_SIGN) if found else None


def _run_end(thai: bytes, start: int) -> int:
    end = start
    while end < len(thai) and thai[end] == 0x54:  # "T"
        end += 1
    return end


def _in_latin_word(thai: bytes) -> NotThai | None:
    """A run of one Thai character touching a Latin letter, or a run between two."""
    best: NotThai | None = None
    at = thai.find(b"LT")
    while at >= 0 and (best is None or at + 1 < best.start):
        end = _run_end(thai, at + 1)
        if end - at == 2 or thai[end:end + 1] == b"L":
            best = NotThai(at + 1, end, IN_LATIN_WORD)
            break
        at = thai.find(b"LT", end)
    at = thai.find(b"TL")
    while at >= 0 and (best is None or at < best.start):
        if at == 0 or thai[at - 1] != 0x54:
            best = NotThai(at, at + 1, IN_LATIN_WORD)
            break
        at = thai.find(b"TL", at + 1)
    return best


def not_thai(raw: bytes) -> NotThai | None:
    """The first place in cp874 bytes that Thai text would not have, or None."""
    kinds = raw.translate(_CLASSES)
    found = [f for f in (_lone_sign(kinds), _in_latin_word(kinds.translate(_THAI_AS_T))) if f is not None]
    never = kinds.find(b"N")
    if never >= 0:
        found.append(NotThai(never, never + 1, NEVER_USED))
    return min(found, key=lambda f: f.start) if found else None


def word_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the word (letters, marks, digits) that holds text[start:end]."""
    def in_word(ch: str) -> bool:
        return ch.isalnum() or "\u0e31" <= ch <= "\u0e4e"

    while start > 0 and in_word(text[start - 1]):
        start -= 1
    while end < len(text) and in_word(text[end]):
        end += 1
    return start, end
