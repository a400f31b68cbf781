"""Reading an uploaded CSV file: its encoding and delimiter, then its records one by one.

UTF-8 (with or without BOM) and Thai Windows cp874/TIS-620 are detected from the bytes;
a file that is neither, or whose high bytes do not read as Thai text (`charsets.not_thai`:
a Latin-1 or Windows-1252 file), is refused with the place, the bytes and what to do —
never imported with changed names. An encoding given by the operator is used instead
(and checked only to decode). ``,`` or ``;`` come from the header line (a TAB when it
splits the header into known columns), or from Excel's ``sep=X`` first line, skipped. Quoted cells may
hold delimiters, quotes and line breaks; a record, not a line, is a row. Row numbers count data rows from 1 (the header
is not counted), blank records included, as a spreadsheet shows them minus one.
A file that cannot be read raises InvalidInput("file", reason).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mailgothai.core.csvimport.charsets import not_thai, word_around
from mailgothai.core.csvimport.columns import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
    DOMAIN_COLUMNS,
    DOMAIN_SYNONYMS,
    EXPORT_ONLY_COLUMNS,
    _key,
)
from mailgothai.core.reasons import Reason, Why
from mailgothai.errors import InvalidInput

BOMS = {codecs.BOM_UTF8: "utf-8-sig"}
UNSUPPORTED_BOMS = {codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16",
                    codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32"}
DELIMITERS = (",", ";")
MAX_CELL = 64 * 1024  # a longer cell is a quote that never closed, not a name
# A record (a row, or the header) longer than this, or with more cells, is no row of an
# import but a broken or hostile file: it is refused before it is read whole (an 80 MB
# row of ",a" made 40 million cells and ~1 GB). An HR system's export with a hundred
# columns, or Excel's trailing empty cells, stay far below both.
MAX_RECORD = 1 << 20  # characters
MAX_CELLS = 1024
SHOWN_WORD = 40  # characters of a word a refusal shows, at most
_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileFormat:
    encoding: str  # "utf-8", "utf-8-sig" or "cp874" detected; or a codec the operator named
    delimiter: str




@dataclass(frozen=True)
class Record:
    row: int  # 1-based data row
    cells: list[str]

    @property
    def blank(self) -> bool:
        return all(not c.strip() for c in self.cells)


def _undecodable(stream: BinaryIO, encoding: str) -> int | None:
    """The offset of the first byte that does not decode, or None if all of it does."""
    stream.seek(0)
    offset = 0
    if encoding == "utf-8-sig" and stream.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
        encoding, offset = "utf-8", len(codecs.BOM_UTF8)  # the decoder's offsets would not count the BOM
    stream.seek(offset)
    decoder = codecs.getincrementaldecoder(encoding)()
    for block in iter(lambda: stream.read(_BLOCK), b""):
        pending = len(decoder.getstate()[0])  # bytes of an unfinished character, held back
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            return max(0, offset - pending + exc.start)
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return max(0, offset - len(decoder.getstate()[0]))
    return None


def _line_start(stream: BinaryIO, offset: int) -> tuple[int, int]:
    """(1-based line number, the offset its line starts at) of a byte offset; reads the
    file in blocks, never a whole line at once."""
    stream.seek(0)
    number, start, at = 1, 0, 0
    while at < offset:
        block = stream.read(min(_BLOCK, offset - at))
        if not block:
            break
        number += block.count(b"\n")
        last = block.rfind(b"\n")
        if last >= 0:
            start = at + last + 1
        at += len(block)
    return number, start


# Header cells (normalised as columns.py does) whose values may be shown in a message:
# the known columns that never hold a secret. Any other column's cell, a password or a
# column the importer does not know (it may hold one), is named but never shown.
_KNOWN_COLUMNS = frozenset({*ACCOUNT_COLUMNS, *DOMAIN_COLUMNS, *ACCOUNT_SYNONYMS, *DOMAIN_SYNONYMS})
_SHOWN_COLUMNS = frozenset(
    {*ACCOUNT_COLUMNS, *DOMAIN_COLUMNS, *EXPORT_ONLY_COLUMNS, *ACCOUNT_SYNONYMS, *DOMAIN_SYNONYMS} - {"password"})
# Excel's first line naming the delimiter ("sep=;"), skipped: a TAB or a sign other than the quote
_SEP = re.compile('sep=(\t|[^"\\w\\s])')
_ESCAPED = re.compile("[\udc80-\udcff]")  # an undecodable byte, read with errors="surrogateescape"


def may_show(column: str) -> bool:
    """Whether a cell of the column named `column` (as the header writes it) may be shown."""
    key = _key(column)
    return key in _SHOWN_COLUMNS and ACCOUNT_SYNONYMS.get(key, key) != "password"


class _TooLong(Exception):
    """A record grew past MAX_RECORD characters."""


class _Budget:
    """The characters of the record being read, so far; and the lines skipped before the
    header (Excel's "sep=" line), which csv.reader's line numbers do not count."""

    def __init__(self) -> None:
        self.chars = 0
        self.skipped = 0


def excel_sep(line: str) -> str | None:
    """The delimiter an Excel "sep=X" first line names, or None if `line` is none."""
    found = _SEP.fullmatch(line.rstrip("\r\n"))
    return found.group(1) if found else None


def _lines(text: io.TextIOWrapper, budget: _Budget) -> Iterator[str]:
    """The lines of `text` for csv.reader, never reading more than MAX_RECORD characters
    for one record (`budget`, reset by the reader's owner at each record's start), and
    without an Excel "sep=X" first line (detect_format takes its delimiter from it)."""
    first = text.readline(MAX_RECORD + 1)
    if excel_sep(first) is not None:
        budget.skipped = 1
    elif first:
        budget.chars = len(first)
        if budget.chars > MAX_RECORD:
            raise _TooLong
        yield first
    else:
        return
    while line := text.readline(MAX_RECORD + 1 - budget.chars):
        budget.chars += len(line)
        if budget.chars > MAX_RECORD:
            raise _TooLong
        yield line


def _place_of(stream: BinaryIO, encoding: str, line_number: int) -> tuple[int, str] | None:
    """(data row, the header's name of the column, or its number) holding the first byte
    that does not decode (row 0: the header), or None if the CSV cannot tell."""
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    try:
        delimiter = _delimiter_of(text)
        budget = _Budget()
        reader = csv.reader(_lines(text, budget), delimiter=delimiter, quotechar='"', doublequote=True)
        header: list[str] = []
        for row, record in enumerate(reader):
            budget.chars = 0
            header = header if row else record
            if reader.line_num + budget.skipped < line_number:
                continue
            for index, cell in enumerate(record):
                if _ESCAPED.search(cell):
                    return row, header[index] if index < len(header) and header[index].strip() else str(index + 1)
            return None
    except (csv.Error, _TooLong):
        return None
    finally:
        text.detach()
        stream.seek(0)
    return None


def _thai_before(stream: BinaryIO, offset: int) -> bool:
    """Whether the bytes before `offset` (its last MiB) hold Thai Windows text, all of it Thai."""
    stream.seek(max(0, offset - _BLOCK))
    head = stream.read(min(offset, _BLOCK))
    stream.seek(0)
    return any(0xA1 <= b <= 0xFB for b in head) and not_thai(head) is None


def _not_decoding(stream: BinaryIO, offset: int, encoding: str, forced: bool) -> InvalidInput:
    """The file does not decode at `offset`: where (line, byte of the line, row and column)
    and which byte, never the line's text (it may hold a password); a byte of a column
    that may hold a secret is not shown either."""
    number, start = _line_start(stream, offset)
    stream.seek(offset)
    byte: str | Reason = stream.read(1).hex().upper()
    place = _place_of(stream, encoding, number)
    if place is None:
        where = Why.AT_LINE_BYTE(line=number, offset=offset - start + 1)
    else:
        row, column = place
        if not row:
            where = Why.AT_HEADER_BYTE(line=number, offset=offset - start + 1)
        else:
            where = Why.AT_CELL_BYTE(line=number, offset=offset - start + 1, row=row, column=column)
            if not may_show(column):
                byte = Why.NOT_SHOWN_SECRET()
    if forced:
        return InvalidInput("file", Why.NOT_GIVEN_ENCODING_AT(encoding=encoding, where=where, byte=byte))
    if encoding == "cp874" and _thai_before(stream, offset):  # Thai: never advise a Western encoding
        return InvalidInput("file", Why.BYTE_NOT_IN_THAI_FILE(where=where, byte=byte))
    return InvalidInput("file", Why.BYTE_NOT_IN_ENCODING_AT(where=where, byte=byte, encoding=encoding))


def _check_thai(stream: BinaryIO) -> None:
    """Refuse a file read as cp874 whose high bytes do not read as Thai (charsets.not_thai),
    naming the row, the column, the bytes and what they would be as Windows-1252. One
    pass over the bytes (blocks end at a line's end: no Thai word spans two lines); the
    CSV is parsed only to name the place of a finding."""
    stream.seek(0)
    offset = 0
    while block := stream.read(_BLOCK) + stream.readline(MAX_RECORD):
        found = not_thai(block)
        if found is not None:
            raise _not_thai_at(stream, offset + found.start)
        offset += len(block)
    stream.seek(0)


def _not_thai_at(stream: BinaryIO, offset: int) -> InvalidInput:
    line_number, _ = _line_start(stream, offset)
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="cp874", newline="")
    try:
        delimiter = _delimiter_of(text)
        budget = _Budget()
        reader = csv.reader(_lines(text, budget), delimiter=delimiter, quotechar='"', doublequote=True)
        header: list[str] = []
        for row, record in enumerate(reader):  # row 0: the header
            budget.chars = 0
            header = header or record
            if reader.line_num + budget.skipped < line_number:
                continue
            for index, cell in enumerate(record):
                found = not_thai(cell.encode("cp874"))
                if found is None:
                    continue
                start, end = word_around(cell, found.start, found.end)
                start, end = max(start, found.start - SHOWN_WORD // 2), min(end, found.end + SHOWN_WORD // 2)
                word = cell[start:end]
                raw = word.encode("cp874")
                high = " ".join(f"{b:02X}" for b in raw if b >= 0x80)
                western, line = raw.decode("cp1252", errors="replace"), reader.line_num + budget.skipped
                if not row:
                    return InvalidInput("file", Why.HEADER_NOT_THAI(line=line, bytes=high, thai=word, why=found.why,
                                                                    western=western))
                column = header[index] if index < len(header) and header[index].strip() else str(index + 1)
                if not may_show(column):  # a password (or what may be one): where and why, not what
                    return InvalidInput("file", Why.CELL_NOT_THAI_HIDDEN(row=row, column=column, line=line,
                                                                         why=found.why))
                return InvalidInput("file", Why.CELL_NOT_THAI(row=row, column=column, line=line, bytes=high, thai=word,
                                                              why=found.why, western=western))
            break
    except (csv.Error, _TooLong):
        pass
    finally:
        text.detach()
        stream.seek(0)
    return InvalidInput("file", Why.LINE_NOT_THAI(line=line_number))


# What a line of real UTF-8 text holds beyond ASCII: Latin letters, Thai, punctuation, a
# BOM. Thai Windows bytes that happen to decode as UTF-8 ("เขต" is E0 A2 B5) give other
# code points (U+08xx and the like), so such a line is not taken for UTF-8.
_UTF8_TEXT = re.compile("[\u00a0-\u024f\u0e00-\u0e7f\u2000-\u206f\u20ac\ufeff]")
_NOT_ASCII = re.compile("[^\x00-\x7f]")


def _mixed_encodings(stream: BinaryIO) -> InvalidInput | None:
    """A file with both lines of UTF-8 text beyond ASCII and lines that are not UTF-8 (Excel
    on Thai Windows adding cp874 rows to a UTF-8 file): which line is which, and that the
    others may be cp874 — never an --encoding, since no one encoding reads the whole file."""
    stream.seek(0)
    number, utf8_line, bad_line, bad_lines, thai = 1, 0, 0, 0, False
    for chunk in iter(lambda: stream.readline(MAX_RECORD), b""):
        if number == 1:
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines += 1
            if not bad_line:
                bad_line = number
                try:
                    thai = not_thai(chunk) is None and bool(_NOT_ASCII.search(chunk.decode("cp874")))
                except UnicodeDecodeError:
                    thai = False
        else:
            if not utf8_line and _NOT_ASCII.search(text) and not _NOT_ASCII.search(_UTF8_TEXT.sub("", text)):
                utf8_line = number
        if chunk.endswith(b"\n"):
            number += 1
    stream.seek(0)
    if not (utf8_line and bad_line):
        return None
    what = Why.LINE_READS_AS_THAI() if thai else Why.LINE_OTHER_ENCODING()
    return InvalidInput("file", Why.MIXED_ENCODINGS(utf8_line=utf8_line, line=bad_line, what=what, bad=bad_lines))


def detect_encoding(stream: BinaryIO, forced: str | None = None) -> str:
    """"utf-8-sig", "utf-8" or "cp874" for a seekable binary stream, or `forced` (a codec
    from `charsets.encoding_named`; "utf-8" becomes "utf-8-sig" when the file has a BOM)."""
    stream.seek(0)
    head = stream.read(4)
    for bom, name in UNSUPPORTED_BOMS.items():
        if head.startswith(bom) and not head.startswith(codecs.BOM_UTF8):
            raise InvalidInput("file", Why.FILE_NOT_CSV(kind=name))
    if not head:
        raise InvalidInput("file", Why.FILE_EMPTY())
    if forced is not None:
        encoding = "utf-8-sig" if forced == "utf-8" and head.startswith(codecs.BOM_UTF8) else forced
        bad = _undecodable(stream, encoding)
        if bad is not None:
            raise _mixed_encodings(stream) or _not_decoding(stream, bad, encoding, forced=True)
        stream.seek(0)
        return encoding
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif _undecodable(stream, "utf-8") is None:
        encoding = "utf-8"
    else:
        mixed = _mixed_encodings(stream)  # before blaming a UTF-8 line for not being cp874
        if mixed is not None:
            raise mixed
        encoding = "cp874"
    bad = _undecodable(stream, encoding)
    if bad is not None:
        raise _mixed_encodings(stream) or _not_decoding(stream, bad, encoding, forced=False)
    if encoding == "cp874":
        _check_thai(stream)
    stream.seek(0)
    return encoding


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header line (outside quotes) into the most cells: ","
    or ";", or a TAB (a sheet saved as "Text (Tab delimited)") when it splits the header into
    more cells than they do and one of them is a column an import knows."""
    counts = {d: 0 for d in (*DELIMITERS, "\t")}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts["\t"] > counts[best] and any(
            _key(cell.strip('"')) in _KNOWN_COLUMNS for cell in header_line.rstrip("\r\n").split("\t")):
        return "\t"
    return best if counts[best] else ","


def _delimiter_of(text: io.TextIOWrapper) -> str:
    """The delimiter of a file from its first line: an Excel "sep=X" line's, or the header's;
    `text` is left at its start."""
    text.seek(0)
    first = text.readline(MAX_CELL)
    text.seek(0)
    return excel_sep(first) or detect_delimiter(first)


def open_text(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    stream.seek(0)
    return io.TextIOWrapper(stream, encoding=encoding, newline="")


def detect_format(stream: BinaryIO, forced_encoding: str | None = None) -> FileFormat:
    """The file's encoding (detected, or the codec the operator named) and delimiter."""
    encoding = detect_encoding(stream, forced_encoding)
    first = stream.readline(MAX_CELL).decode(encoding, errors="replace")
    sep = excel_sep(first)
    if sep is not None:  # Excel's "sep=;": the delimiter named; the header is the next line
        first = stream.readline(MAX_CELL).decode(encoding, errors="replace")
    stream.seek(0)
    if not first.strip():
        raise InvalidInput("file", Why.HEADER_EMPTY())
    return FileFormat(encoding, sep or detect_delimiter(first))


class Records:
    """The data records of a file, one at a time. Gives the stream back to its owner
    (detaches from it) when exhausted or closed; it never closes the stream."""

    def __init__(self, text: io.TextIOWrapper, reader: csv._reader,  # type: ignore[name-defined]
                 budget: _Budget) -> None:
        self._text: io.TextIOWrapper | None = text
        self._reader = reader
        self._budget = budget
        self._row = 0

    def __iter__(self) -> Records:
        return self

    def __next__(self) -> Record:
        if self._text is None:
            raise StopIteration
        self._budget.chars = 0
        try:
            cells = next(self._reader)
        except StopIteration:
            self.close()
            raise
        except _TooLong:
            line = self._reader.line_num + self._budget.skipped + 1
            self.close()
            raise InvalidInput("file", Why.ROW_TOO_LONG(row=self._row + 1, line=line, max=MAX_RECORD)) from None
        except csv.Error as exc:
            line = self._reader.line_num + self._budget.skipped
            self.close()
            raise InvalidInput("file", Why.ROW_UNREADABLE(row=self._row + 1, line=line, detail=str(exc))) from None
        self._row += 1
        if len(cells) > MAX_CELLS:
            line = self._reader.line_num + self._budget.skipped
            self.close()
            raise InvalidInput("file", Why.ROW_TOO_WIDE(row=self._row, line=line, cells=len(cells), max=MAX_CELLS))
        return Record(self._row, cells)

    def close(self) -> None:
        if self._text is not None:
            self._text.detach()
            self._text = None


def read_records(stream: BinaryIO, fmt: FileFormat) -> tuple[list[str], Records]:
    """(header cells, the data records). Malformed quoting raises InvalidInput("file", ...)."""
    csv.field_size_limit(MAX_CELL)
    text = open_text(stream, fmt.encoding)
    budget = _Budget()
    reader = csv.reader(_lines(text, budget), delimiter=fmt.delimiter, quotechar='"', doublequote=True,
                        strict=True)
    try:
        header = next(reader)
    except StopIteration:
        text.detach()
        raise InvalidInput("file", Why.FILE_EMPTY()) from None
    except _TooLong:
        text.detach()
        raise InvalidInput("file", Why.HEADER_TOO_LONG(max=MAX_RECORD)) from None
    except csv.Error as exc:
        text.detach()
        raise InvalidInput("file", Why.HEADER_UNREADABLE(detail=str(exc))) from None
    if len(header) > MAX_CELLS:
        text.detach()
        raise InvalidInput("file", Why.HEADER_TOO_WIDE(cells=len(header), max=MAX_CELLS))
    return header, Records(text, reader, budget)
