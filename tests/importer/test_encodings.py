"""A CSV whose high bytes are not Thai is refused, never read as cp874 with changed names
(issue 15: "Jörg" became "J๖rg", exit 0); `--encoding` reads it as what it is."""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

import pytest

from mailgothai.core.csvimport import detect_format, encoding_named, read_records
from mailgothai.core.csvimport.charsets import not_thai
from mailgothai.datagen import Spec, generate
from mailgothai.datagen.words import AWKWARD_NAMES, DEPARTMENTS, GIVEN_NAMES, MINISTRIES, PROVINCES, SURNAMES
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from tests.conftest import Cli

pytestmark = pytest.mark.sql

# Western names as people write them, each with the accented letters Latin-1 and
# Windows-1252 share; as cp874 these bytes are Thai characters (or nothing at all).
WESTERN = ["Jörg", "José", "François", "Bjørn", "Zoë", "Émile", "Ñuñez", "Raúl", "Chloé", "Søren", "Mårten",
           "Ó Briain", "Çelik", "Jérôme", "Gaëlle", "Inês", "naïve", "Ångström", "Müller"]


def _csv(given: str, encoding: str) -> bytes:
    first = "สมชาย,ใจดี" if encoding in ("cp874", "utf-8") else "Somchai,Jaidee"  # what the file can hold
    return ("email,given_name,surname,display_name\n"
            f"somchai@a.go.th,{first},Somchai J.\n"
            f"jorg@a.go.th,{given},Schmidt,{given} Schmidt\n").encode(encoding)


def _read(data: bytes, encoding: str | None = None) -> tuple[str, list[list[str]]]:
    stream = io.BytesIO(data)
    fmt = detect_format(stream, encoding_named(encoding) if encoding else None)
    _, records = read_records(stream, fmt)
    return fmt.encoding, [r.cells for r in records]


def test_thai_of_the_data_generator_reads_as_thai(tmp_path: Path) -> None:
    """Every Thai word the generator uses, and a whole generated cp874 file with its awkward
    rows, read as cp874 without a finding (no false alarm on real Thai)."""
    words = [w for pair in (*GIVEN_NAMES, *SURNAMES, *MINISTRIES) for w in pair]
    words += [*PROVINCES, *DEPARTMENTS, *AWKWARD_NAMES]
    thai = [w for w in words if not w.isascii()]
    assert len(thai) > 50
    for word in thai:
        assert not_thai(word.encode("cp874")) is None, word
    generate(Spec(tmp_path, domains=20, accounts=3000, awkward_rows=len(AWKWARD_NAMES), passwords="blank",
                  encoding="cp874"))
    for name in ("accounts.csv", "domains.csv"):
        with open(tmp_path / name, "rb") as fh:
            fmt = detect_format(fh)
            _, records = read_records(fh, fmt)
            rows = [r.cells for r in records]
        assert fmt.encoding == "cp874"
        assert any(not cell.isascii() for row in rows for cell in row)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
@pytest.mark.parametrize("given", WESTERN)
def test_a_western_file_is_refused_naming_the_place_the_bytes_and_the_way_out(given: str, encoding: str) -> None:
    data = _csv(given, encoding)
    with pytest.raises(InvalidInput) as refused:
        _read(data)
    reason = refused.value.reason
    assert refused.value.field == "file"
    assert "UTF-8" in reason and "--encoding" in reason  # what to do
    assert "line 3" in reason  # where (the header is line 1)
    high = [f"{b:02X}" for b in given.encode(encoding) if b >= 0x80]
    assert high[0] in reason  # which bytes
    assert "data row 2, column given_name" in reason  # which cell
    if "read as Thai" in reason:  # read as cp874 at all: what the cell really says (a name, shown)
        assert "data row 2, column given_name" in reason
        assert repr(given.split()[0]) in reason or repr(given) in reason


def test_an_operator_given_encoding_reads_the_names_exactly() -> None:
    for encoding in ("latin-1", "cp1252", "windows-1252", "ISO-8859-1"):
        codec, rows = _read(_csv("Jörg", "cp1252"), encoding)
        assert rows[1][1] == "Jörg" and codec in ("latin-1", "cp1252")
    assert _read(_csv("Søren", "utf-8"), "utf-8")[1][1][1] == "Søren"
    assert _read(b"\xef\xbb\xbf" + _csv("Søren", "utf-8"), "utf-8") == ("utf-8-sig", _read(_csv("Søren", "utf-8"))[1])
    codec, rows = _read(_csv("สมหญิง", "cp874"), "tis-620")
    assert codec == "cp874" and rows[1][1] == "สมหญิง"
    with pytest.raises(InvalidInput) as wrong:
        _read(_csv("Jörg", "latin-1"), "utf-8")  # a named encoding the bytes are not
    assert wrong.value.field == "file" and "line 3" in wrong.value.reason and "F6" in wrong.value.reason
    with pytest.raises(InvalidInput) as unknown:
        encoding_named("klingon")
    assert unknown.value.field == "encoding" and "'klingon'" in unknown.value.reason
    assert "cp1252" in unknown.value.reason


def test_the_cli_refuses_a_latin1_file_and_imports_it_with_encoding(cli: Cli, services: Services,
                                                                     tmp_path: Path) -> None:
    domain = f"e{uuid.uuid4().hex[:8]}.go.th"
    services.domains.add(domain, description="encodings")
    path = tmp_path / "western.csv"
    path.write_bytes(f"email,given_name,surname,password\njorg@{domain},Jörg,Ørsted,Pass-word-123x\n"
                     .encode("latin-1"))
    refused = cli("import", str(path))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "data row 1, column given_name" in refused.stderr and "'Jörg'" in refused.stderr
    with pytest.raises(NotFound):
        services.accounts.get(f"jorg@{domain}")  # nothing written
    unknown = cli("import", str(path), "--encoding", "klingon")
    assert unknown.returncode == 2 and "encoding: unknown encoding 'klingon'" in unknown.stderr
    done = cli("import", str(path), "--encoding", "latin-1")
    assert done.returncode == 0, done.stdout + done.stderr
    account = services.accounts.get(f"jorg@{domain}")
    assert (account.given_name, account.surname) == ("Jörg", "Ørsted")


# ---- no secret in a refusal (audit: a password echoed into the job, the API and web.log) ----
SECRET = "TopSecret99"


def _refusal(data: bytes, encoding: str | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        _read(data, encoding)
    return refused.value


def test_a_byte_that_does_not_decode_is_placed_but_its_line_never_shown() -> None:
    data = f"email,given_name,password\na@mfa.go.th,Somchai,{SECRET}".encode() + b"\xfc\n"
    refused = _refusal(data)
    assert SECRET not in refused.reason and SECRET not in str(refused.why.as_data())
    assert "line 2" in refused.reason
    assert "data row 1, column password" in refused.reason and "byte 32 of the line" in refused.reason
    assert "FC" not in refused.reason  # not even the byte of a password
    forced = _refusal(data, "utf-8")
    assert SECRET not in forced.reason and "column password" in forced.reason
    # a name's byte is shown: it tells the encoding
    named = _refusal(b"email,given_name,password\na@mfa.go.th,J\xfcrg,x\n")
    assert "data row 1, column given_name" in named.reason and "FC" in named.reason
    # a column the importer does not know may hold a secret too
    unknown = _refusal(f"email,initial_pw\na@mfa.go.th,{SECRET}".encode() + b"\xfc\n")
    assert SECRET not in unknown.reason and "column initial_pw" in unknown.reason and "FC" not in unknown.reason


def test_a_password_not_read_as_thai_is_named_not_shown() -> None:
    data = "email,given_name,password\na@mfa.go.th,Somchai,TopSecr\xe9t99x\n".encode("latin-1")
    refused = _refusal(data)
    assert "TopSecr" not in refused.reason and "t99x" not in refused.reason
    assert "TopSecr" not in str(refused.why.as_data())
    assert "data row 1, column password" in refused.reason


def test_the_job_and_the_log_never_hold_the_password(services: Services, stack: Settings, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from mailgothai.services.import_runner import start_in_background
    from mailgothai.services.imports import ImportService

    path = tmp_path / "leak.csv"
    path.write_bytes(f"email,given_name,password\na@mfa.go.th,Somchai,{SECRET}".encode() + b"\xfc\n")
    service = ImportService(services.backends, services.actor)
    job = service.start_job(path, keep_copy=True)
    with caplog.at_level(logging.DEBUG):
        start_in_background(stack, services.actor, job.id, "validate").join()
    failed = service.get_job(job.id)
    assert failed.state.value == "failed" and "column password" in failed.error
    assert SECRET not in failed.error and SECRET not in str(failed.error_why and failed.error_why.as_data())
    assert SECRET not in caplog.text and "Traceback" not in caplog.text
    assert "column password" in caplog.text  # logged: the message alone


# ---- files of more than one encoding: the advice fits the file (never cp1252 for Thai) ----
def test_a_file_mixing_utf8_and_cp874_lines_is_named_as_mixed() -> None:
    """Refused blaming the correct UTF-8 line and advising '--encoding cp1252', which garbles Thai."""
    header = "email,given_name,surname\n"
    data = ((header + "a@a.go.th,สมชาย,ใจดี\n").encode() + "b@a.go.th,สมหญิง,รักไทย\n".encode("cp874")
            + "c@a.go.th,สมศักดิ์,มั่นคง\n".encode())
    for forced in (None, "utf-8", "cp874"):
        refused = _refusal(data, forced)
        assert "mixes encodings" in refused.reason, refused.reason
        assert "line 2 is UTF-8" in refused.reason and "line 3 is not UTF-8" in refused.reason
        assert "cp874/TIS-620" in refused.reason and "reads as Thai" in refused.reason
        assert "cp1252" not in refused.reason and "สมหญิง" not in refused.reason
    bom = _refusal(b"\xef\xbb\xbf" + data)
    assert "line 3 is not UTF-8" in bom.reason and "cp1252" not in bom.reason
    # mostly cp874, one UTF-8 line
    mostly = (header + "a@a.go.th,สมชาย,ใจดี\n").encode("cp874") + "b@a.go.th,สมหญิง,รักไทย\n".encode()
    refused = _refusal(mostly)
    assert "line 3 is UTF-8" in refused.reason and "line 2 is not UTF-8" in refused.reason
    assert "cp1252" not in refused.reason


def test_a_thai_file_with_a_stray_byte_is_not_advised_a_western_encoding() -> None:
    data = "email,given_name\na@a.go.th,สมชาย\n".encode("cp874") + b"b@a.go.th,x\xfcy\n"
    refused = _refusal(data)
    assert "reads as Thai Windows" in refused.reason and "data row 2, column given_name" in refused.reason
    assert "cp1252" not in refused.reason and "FC" in refused.reason
    assert "cp1252" in _refusal(b"email,given_name\nb@a.go.th,M\xfcller\n").reason  # Western: still advised


def test_a_byte_after_a_bom_is_placed_exactly() -> None:
    """The BOM was not counted: the byte named was 3 bytes before the bad one."""
    refused = _refusal(b"\xef\xbb\xbfemail,given_name\na@x.go.th,J\xf6rg\n")
    assert "line 2, byte 12 of the line" in refused.reason and "byte F6" in refused.reason


# ---- delimiters: TAB, and Excel's "sep=" first line ----
def test_a_tab_delimited_file_is_read() -> None:
    """A sheet saved as 'Text (Tab delimited)' got 'the header has no email column'."""
    data = "email\tgiven_name\tsurname\tquota\na@a.go.th\tสมชาย\tใจดี, ศรี\t1G\n".encode()
    stream = io.BytesIO(data)
    fmt = detect_format(stream)
    header, records = read_records(stream, fmt)
    assert fmt.delimiter == "\t" and header == ["email", "given_name", "surname", "quota"]
    assert [r.cells for r in records] == [["a@a.go.th", "สมชาย", "ใจดี, ศรี", "1G"]]
    # a TAB inside a comma header's cells is no delimiter: unknown columns do not count
    assert detect_format(io.BytesIO(b"email,given_name,a\tb\tc\na@a.go.th,x,y\n")).delimiter == ","


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_an_excel_sep_line_is_skipped_and_names_the_delimiter(sep: str) -> None:
    """Excel's 'sep=;' first line was taken for the header: 'the header has no email column'."""
    rows = [["email", "given_name", "aliases"], ["a@a.go.th", "สมชาย", "b@a.go.th;c@a.go.th"]]
    body = "\r\n".join(sep.join(f'"{c}"' if sep in c else c for c in row) for row in rows) + "\r\n"
    data = b"\xef\xbb\xbf" + f"sep={sep}\r\n{body}".encode()
    stream = io.BytesIO(data)
    fmt = detect_format(stream)
    header, records = read_records(stream, fmt)
    assert fmt.delimiter == sep and header == rows[0]
    assert [(r.row, r.cells) for r in records] == [(1, rows[1])]
    # a place is still counted in the file's lines (the sep line is line 1)
    broken = f"sep={sep}\nemail{sep}given_name\na@a.go.th{sep}\"x\n".encode()
    stream = io.BytesIO(broken)
    _, records = read_records(stream, detect_format(stream))
    with pytest.raises(InvalidInput) as unreadable:
        list(records)
    assert "data row 1 (line 3)" in unreadable.value.reason
    latin = _refusal(f"sep={sep}\nemail{sep}given_name\na@a.go.th{sep}J".encode() + b"\xfcrg\n")
    assert "data row 1, column given_name, line 3" in latin.reason


def test_tab_and_sep_files_import_end_to_end(services: Services, tmp_path: Path) -> None:
    from mailgothai.services.imports import ImportService

    domain = f"s{uuid.uuid4().hex[:8]}.go.th"
    services.domains.add(domain, description="delimiters")
    service = ImportService(services.backends, services.actor)
    tab = tmp_path / "tab.csv"
    tab.write_text(f"email\tgiven_name\tsurname\ntab@{domain}\tสมชาย\tใจดี\n", encoding="utf-8")
    sep = tmp_path / "sep.csv"
    sep.write_bytes(f"sep=;\r\nemail;given_name;surname\r\nsep@{domain};สมหญิง;รักไทย\r\n".encode("cp874"))
    for path, delimiter in ((tab, "\t"), (sep, ";")):
        summary = service.run_file(path)
        assert (summary.created, summary.bad, summary.job.delimiter) == (1, 0, delimiter)
    assert services.accounts.get(f"tab@{domain}").given_name == "สมชาย"
    assert services.accounts.get(f"sep@{domain}").surname == "รักไทย"
    weird = _refusal(b'sep="\nemail,given_name\na@a.go.th,x\n' + b"\xfc\n")  # no quote as a delimiter
    assert "line 4" in weird.reason
