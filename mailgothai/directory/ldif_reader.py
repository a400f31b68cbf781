"""Reading LDIF content records (RFC 2849) as `slapcat` writes them: a backup's directory
(DIR/directory/data.ldif). Entries come one at a time (a whole directory is hundreds of
megabytes), each as an `Entry` with its raw values; `wanted(dn)` lets a caller skip the
decoding of entries it does not need."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from pathlib import Path

from mailgothai.directory.entries import Attrs, Entry
from mailgothai.errors import MailGoThaiError


class LdifError(MailGoThaiError):
    """The LDIF cannot be read (it is not what slapcat writes)."""


def _logical_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Lines with their continuations (a line starting with one space) joined; comments
    dropped; a blank line yields b"" (the end of a record)."""
    current: bytes | None = None
    start = 0
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, 1):
            line = raw.rstrip(b"\r\n")
            if line.startswith(b" ") and current is not None:
                current += line[1:]
                continue
            if current is not None:
                yield start, current
                current = None
            if not line:
                yield number, b""
            elif not line.startswith(b"#"):
                current, start = line, number
    if current is not None:
        yield start, current
    yield 0, b""


def _value(line: bytes, number: int, path: Path) -> tuple[str, bytes]:
    name, colon, rest = line.partition(b":")
    if not colon or not name:
        raise LdifError(f"{path}, line {number}: not an LDIF attribute line")
    if rest.startswith(b":"):
        try:
            return name.decode("ascii"), base64.b64decode(rest[1:].strip(), validate=True)
        except (binascii.Error, UnicodeDecodeError):
            raise LdifError(f"{path}, line {number}: bad base64 value") from None
    if rest.startswith(b"<"):
        raise LdifError(f"{path}, line {number}: URL values are not read")
    return name.decode("ascii", "replace"), rest[1:] if rest.startswith(b" ") else rest


def read_entries(path: Path, wanted: Callable[[str], bool] = lambda dn: True) -> Iterator[Entry]:
    """Every entry of the file whose DN `wanted` accepts, in the file's order."""
    dn: str | None = None
    attrs: Attrs = {}
    skipping = False
    for number, line in _logical_lines(path):
        if not line:
            if dn is not None and not skipping:
                yield Entry(dn, attrs)
            dn, attrs, skipping = None, {}, False
            continue
        if skipping:
            continue
        if dn is None:
            name, value = _value(line, number, path)
            if name.lower() == "version":
                continue
            if name.lower() != "dn":
                raise LdifError(f"{path}, line {number}: a record must begin with dn:")
            dn = value.decode("utf-8")
            skipping = not wanted(dn)
            continue
        name, value = _value(line, number, path)
        attrs.setdefault(name.lower(), []).append(value)
