"""The job's files: the generated-password journal, the result file, reading ahead."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mailgothai.services.exports import read_ahead
from mailgothai.services.import_files import PasswordJournal, write_result
from mailgothai.store.jobs import RowRecord, RowState

pytestmark = pytest.mark.sql


def test_journal_last_line_wins_and_a_cut_line_is_ignored(tmp_path: Path) -> None:
    journal = PasswordJournal(tmp_path)
    journal.append([(1, "a@x.go.th", "First-pass-1"), (2, "b@x.go.th", "Second-pass-2")])
    journal.append([(1, "a@x.go.th", "Again-pass-3")])  # row 1 written again after a crash
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write("3\tc@x.go.th")  # a crash in the middle of a line
    assert journal.read() == {1: "Again-pass-3", 2: "Second-pass-2"}
    assert journal.path.stat().st_mode & 0o777 == 0o600


def test_result_file_is_private_and_has_passwords_only_for_created_rows(tmp_path: Path) -> None:
    rows = [RowRecord(1, "a@x.go.th", "x.go.th", 0, "create", RowState.APPLIED, "", "", None),
            RowRecord(2, "=b@x.go.th", "", 0, "", RowState.REJECTED, "email", "bad", None),
            RowRecord(3, "c@x.go.th", "x.go.th", 0, "create", RowState.FAILED, "email", "taken", None),
            RowRecord(4, '\t=HYPERLINK("http://evil.example","x")', "", 0, "", RowState.REJECTED, "email", "bad",
                      None),
            RowRecord(5, "\r=1+1", "", 0, "", RowState.REJECTED, "email", " =1+1", None)]
    path = write_result(tmp_path, iter(rows), {1: "Gen-pass-1", 3: "Never-used-3"})
    assert path.stat().st_mode & 0o777 == 0o600
    with open(path, newline="", encoding="utf-8-sig") as fh:
        out = list(csv.DictReader(fh))
    assert [(r["row"], r["outcome"], r["generated_password"]) for r in out] == [
        ("1", "created", "Gen-pass-1"), ("2", "rejected", ""), ("3", "failed", ""), ("4", "rejected", ""),
        ("5", "rejected", "")]
    assert out[1]["email"] == "'=b@x.go.th"  # formula guard
    # and after a tab, a return or spaces (OWASP's list): a spreadsheet would run them too
    assert out[3]["email"] == '\'\t=HYPERLINK("http://evil.example","x")'
    assert out[4]["email"] == "'\r=1+1" and out[4]["reason"] == "' =1+1"


def test_read_ahead_keeps_order_and_passes_errors_on() -> None:
    assert list(read_ahead(iter(range(50)), depth=2)) == list(range(50))

    def broken():  # type: ignore[no-untyped-def]
        yield 1
        raise RuntimeError("directory gone")

    with pytest.raises(RuntimeError, match="directory gone"):
        list(read_ahead(broken()))
