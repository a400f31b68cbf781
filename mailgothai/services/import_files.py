"""The files of an import job: its folder, the uploaded file, the generated-password
journal and the result file. Everything holding a password is owner-only (0600).

A generated password is appended to the journal (and fsynced) *before* the account is
written, so whatever a crash interrupts, the password of every account the import made
is in the journal; the last line for a row wins. The result file is built from the
journal and the job's rows when the job ends.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from mailgothai.core.csvimport import ACCOUNT_COLUMNS, ACCOUNT_SYNONYMS, FileFormat, map_header, read_records
from mailgothai.core.csvimport.cells import guard
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.store.jobs import RowRecord

JOURNAL = "passwords.journal"
RESULT = "result.csv"
UPLOAD = "upload.csv"
RESULT_HEADER = ("row", "email", "outcome", "column", "reason", "generated_password")


def job_dir(data_dir: Path, job_id: int) -> Path:
    path = data_dir / "imports" / str(job_id)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


@contextlib.contextmanager
def job_lock(folder: Path, job_id: int) -> Iterator[None]:
    """One process works on a job at a time. The kernel drops the lock when its process
    dies, even by kill -9, so a resume never waits for a dead holder."""
    fd = os.open(folder / "lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidInput("job", Why.JOB_BUSY(job=job_id)) from None
        yield
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keep_upload(source: Path, folder: Path) -> Path:
    """Copy an uploaded file into the job's folder, owner-only (it may hold passwords)."""
    target = folder / UPLOAD
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)
    return target


def open_checked(path: Path, sha256: str) -> BinaryIO:
    """The job's file, refusing one that changed since the job began."""
    if not path.is_file():
        raise InvalidInput("file", Why.FILE_GONE(path=str(path)))
    if sha256_of(path) != sha256:
        raise InvalidInput("file", Why.FILE_CHANGED(path=str(path)))
    return open(path, "rb")


def _private_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


class PasswordJournal:
    def __init__(self, folder: Path) -> None:
        self.path = folder / JOURNAL

    def append(self, entries: Iterable[tuple[int, str, str]]) -> None:
        """(row, email, password) lines, on disk before this returns."""
        lines = [f"{row}\t{email}\t{password}\n" for row, email, password in entries]
        if not lines:
            return
        fd = _private_append(self.path)
        try:
            os.write(fd, "".join(lines).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> dict[int, str]:
        out: dict[int, str] = {}
        if not self.path.exists():
            return out
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:  # a line cut by a crash is incomplete and ignored
                    out[int(parts[0])] = parts[2]
        return out

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


OUTCOME_WORDS: dict[str, str | dict[str, str]] = {
    "applied": {"create": "created", "update": "updated"}, "unchanged": "unchanged", "rejected": "rejected",
    "failed": "failed", "blank": "blank", "planned": "not applied", "inflight": "not applied"}


def outcome_word(record: RowRecord) -> str:
    word = OUTCOME_WORDS.get(record.state.value, record.state.value)
    return word.get(record.action, record.action) if isinstance(word, dict) else word


def write_result(folder: Path, rows: Iterator[RowRecord], passwords: dict[int, str]) -> Path:
    """The result file: one line per row, with the generated password where there is one."""
    path = folder / RESULT
    tmp = folder / (RESULT + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(RESULT_HEADER)
        for r in rows:
            created = r.state.value == "applied" and r.action == "create"
            writer.writerow([r.row, guard(r.email), outcome_word(r), r.column, guard(r.reason),
                             passwords.get(r.row, "") if created else ""])
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


class PasswordCells:
    """The password cell of given rows, read from the job's file in one forward pass
    (passwords are never stored anywhere else)."""

    def __init__(self, stream: BinaryIO, fmt: FileFormat) -> None:
        header_cells, records = read_records(stream, fmt)
        self._records = records
        header = map_header(header_cells, ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
        self._index = header.index.get("password")

    def close(self) -> None:
        self._records.close()  # gives the stream back to its owner

    def cells(self, wanted: Iterable[int]) -> dict[int, str]:
        """Rows must be asked for in increasing order, across calls too."""
        out: dict[int, str] = {}
        for row in wanted:
            if self._index is None:
                out[row] = ""
                continue
            for record in self._records:
                if record.row == row:
                    out[row] = record.cells[self._index] if self._index < len(record.cells) else ""
                    break
        return out
