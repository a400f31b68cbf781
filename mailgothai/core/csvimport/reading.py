"""Reading an uploaded CSV file: its encoding and delimiter, then its records one by one.

UTF-8 (with or without BOM) and Thai Windows cp874/TIS-620 are detected from the bytes;
``,`` or ``;`` from the header line. Quoted cells may hold delimiters, quotes and line
breaks; a record, not a line, is a row. Row numbers count data rows from 1 (the header
is not counted), blank records included, as a spreadsheet shows them minus one.
A file that cannot be read raises InvalidInput("file", reason).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from typing import BinaryIO

from mailgothai.errors import InvalidInput

BOMS = {codecs.BOM_UTF8: "utf-8-sig"}
UNSUPPORTED_BOMS = {codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16",
                    codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32"}
DELIMITERS = (",", ";")
MAX_CELL = 64 * 1024  # a longer cell is a quote that never closed, not a name
_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileFormat:
    encoding: str  # "utf-8", "utf-8-sig" or "cp874"
    delimiter: str


@dataclass(frozen=True)
class Record:
    row: int  # 1-based data row
    cells: list[str]

    @property
    def blank(self) -> bool:
        return all(not c.strip() for c in self.cells)


def _decodes(stream: BinaryIO, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    stream.seek(0)
    try:
        for block in iter(lambda: stream.read(_BLOCK), b""):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(stream: BinaryIO) -> str:
    """"utf-8-sig", "utf-8" or "cp874" for a seekable binary stream (read twice at most)."""
    stream.seek(0)
    head = stream.read(4)
    for bom, name in UNSUPPORTED_BOMS.items():
        if head.startswith(bom) and not head.startswith(codecs.BOM_UTF8):
            raise InvalidInput("file", f"the file is {name}; save it as CSV UTF-8 (or Thai Windows cp874)")
    if not head:
        raise InvalidInput("file", "the file is empty")
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif _decodes(stream, "utf-8"):
        encoding = "utf-8"
    else:
        encoding = "cp874"
    if not _decodes(stream, encoding):
        raise InvalidInput("file", "the file is neither UTF-8 nor Thai Windows (cp874/TIS-620) text")
    stream.seek(0)
    return encoding


def detect_delimiter(header_line: str) -> str:
    """The delimiter that splits the header line (outside quotes) into the most cells."""
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_text(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    stream.seek(0)
    return io.TextIOWrapper(stream, encoding=encoding, newline="")


def detect_format(stream: BinaryIO) -> FileFormat:
    encoding = detect_encoding(stream)
    first = stream.readline(MAX_CELL).decode(encoding, errors="replace")
    stream.seek(0)
    if not first.strip():
        raise InvalidInput("file", "the first line (the header) is empty")
    return FileFormat(encoding, detect_delimiter(first))


class Records:
    """The data records of a file, one at a time. Gives the stream back to its owner
    (detaches from it) when exhausted or closed; it never closes the stream."""

    def __init__(self, text: io.TextIOWrapper, reader: "csv._reader") -> None:  # type: ignore[name-defined]
        self._text: io.TextIOWrapper | None = text
        self._reader = reader
        self._row = 0

    def __iter__(self) -> "Records":
        return self

    def __next__(self) -> Record:
        if self._text is None:
            raise StopIteration
        try:
            cells = next(self._reader)
        except StopIteration:
            self.close()
            raise
        except csv.Error as exc:
            line = self._reader.line_num
            self.close()
            raise InvalidInput("file", f"data row {self._row + 1} (line {line}) cannot be read: {exc}; "
                                       "a quote is probably not closed") from None
        self._row += 1
        return Record(self._row, cells)

    def close(self) -> None:
        if self._text is not None:
            self._text.detach()
            self._text = None


def read_records(stream: BinaryIO, fmt: FileFormat) -> tuple[list[str], Records]:
    """(header cells, the data records). Malformed quoting raises InvalidInput("file", ...)."""
    csv.field_size_limit(MAX_CELL)
    text = open_text(stream, fmt.encoding)
    reader = csv.reader(text, delimiter=fmt.delimiter, quotechar='"', doublequote=True, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        text.detach()
        raise InvalidInput("file", "the file is empty") from None
    except csv.Error as exc:
        text.detach()
        raise InvalidInput("file", f"the header cannot be read: {exc}") from None
    return header, Records(text, reader)
