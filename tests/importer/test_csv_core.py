"""The pure CSV part: reading, header mapping, formula guard, row checks, planning."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgothai.core.csvimport import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
    Action,
    Holder,
    PlannedRow,
    Planner,
    RowResult,
    detect_format,
    guard,
    map_header,
    parse_account_row,
    read_records,
    unguard,
)
from mailgothai.core.models import Account, Domain, DomainLimits
from mailgothai.errors import InvalidInput

GiB = 1024**3


def read(data: bytes) -> tuple[str, str, list[str], list[list[str]]]:
    stream = io.BytesIO(data)
    fmt = detect_format(stream)
    header, records = read_records(stream, fmt)
    return fmt.encoding, fmt.delimiter, header, [r.cells for r in records]


def test_encodings_detected() -> None:
    text = "email,display_name\nsomchai@a.go.th,สมชาย ใจดี\n"
    assert read(text.encode("utf-8"))[0] == "utf-8"
    enc, _, header, rows = read(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert enc == "utf-8-sig" and header[0] == "email"  # the BOM is not part of the first column name
    enc, _, _, rows = read(text.encode("cp874"))
    assert enc == "cp874" and rows == [["somchai@a.go.th", "สมชาย ใจดี"]]


def test_semicolon_quotes_and_line_breaks_in_cells() -> None:
    data = 'display_name;email;aliases\n"Smith; ""J"",\nsecond";a@x.go.th;"b@x.go.th;c@x.go.th"\nx;y@x.go.th;\n'
    _, delimiter, header, rows = read(data.encode())
    assert delimiter == ";"
    assert header == ["display_name", "email", "aliases"]
    assert rows == [['Smith; "J",\nsecond', "a@x.go.th", "b@x.go.th;c@x.go.th"], ["x", "y@x.go.th", ""]]


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    ("email\n".encode("utf-16"), "UTF-16"),
    (b"email\n\x81\x82\xdb\n", "neither UTF-8 nor"),
])
def test_unusable_files(data: bytes, words: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        read(data)
    assert exc.value.field == "file" and words in exc.value.reason


def test_unclosed_quote_names_the_row() -> None:
    with pytest.raises(InvalidInput) as exc:
        read(b'email,display_name\na@x.go.th,ok\nb@x.go.th,"never closed\nc@x.go.th,z\n')
    assert "data row 2" in exc.value.reason


def test_header_in_any_order_unknown_and_duplicate_columns() -> None:
    header = map_header(["Display Name", "E-mail", "Department", "quota"], ACCOUNT_COLUMNS, ("email",),
                        ACCOUNT_SYNONYMS)
    assert header.index == {"display_name": 0, "email": 1, "quota": 3}
    assert header.unknown == ("Department",)
    with pytest.raises(InvalidInput, match="twice"):
        map_header(["email", "mail"], ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
    with pytest.raises(InvalidInput, match="no email column"):
        map_header(["name", "quota"], ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)


@given(st.text())
def test_guard_round_trips(text: str) -> None:
    assert unguard(guard(text)) == text


@pytest.mark.parametrize("text", ["=1+1", "+66 2", "-minus", "@SUM(A1)", "'=x", "''"])
def test_guard_neutralises_formulas(text: str) -> None:
    assert guard(text).startswith("'") and unguard(guard(text)) == text


@pytest.mark.parametrize("text", ['\t=HYPERLINK("http://evil.example","x")', "\r=1+1", "\tplain", "\r",
                                  " =1+1", "  \t+66", "\u00a0@SUM(A1)", "\n-2", "' =x", "'\t=x", "'\r"])
def test_guard_neutralises_formulas_after_a_tab_a_return_or_spaces(text: str) -> None:
    """OWASP's list of starts: = + - @, TAB and CR; and a formula start after leading
    spaces or tabs (a spreadsheet may trim them). Each is guarded, and still round-trips."""
    assert guard(text) == "'" + text and unguard(guard(text)) == text


@given(st.text())
def test_an_unguarded_cell_has_no_formula_start(text: str) -> None:
    out = guard(text)
    if not out.startswith("'"):
        assert out[:1] not in ("=", "+", "-", "@", "\t", "\r") and out.lstrip()[:1] not in ("=", "+", "-", "@")


def test_plain_text_is_not_touched() -> None:
    for text in ("Smith, John", "'apostrophe", "a=b", "สมชาย"):
        assert guard(text) == text == unguard(text)


def _header() -> object:
    return map_header(list(ACCOUNT_COLUMNS), ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)


def _row(n: int, email: str, **cells: str) -> object:
    from mailgothai.core.csvimport.reading import Record

    values = {c: "" for c in ACCOUNT_COLUMNS}
    values.update(email=email, password="Good-pass-1")
    values.update(cells)
    return parse_account_row(Record(n, [values[c] for c in ACCOUNT_COLUMNS]), _header())  # type: ignore[arg-type]


def test_row_checks_name_the_column() -> None:
    assert isinstance(_row(1, "a@x.go.th"), object)
    cases = {
        "email": _row(1, "a@@x.go.th"), "quota": _row(2, "a@x.go.th", quota="lots"),
        "status": _row(3, "a@x.go.th", status="yes"), "given_name": _row(4, "a@x.go.th", given_name="a\x00b"),
        "display_name": _row(5, "a@x.go.th", display_name="ก" * 257),
        "aliases": _row(6, "a@x.go.th", aliases="a@x.go.th"), "forward": _row(7, "a@x.go.th", forward="@@"),
    }
    for column, result in cases.items():
        assert isinstance(result, RowResult) and not result.ok and result.column == column, (column, result)
    short = _row(8, "a@x.go.th", password="short")
    assert isinstance(short, RowResult) and short.column == "password"
    guarded = _row(9, "'-dash@x.go.th", display_name="'=SUM(1)")
    assert not isinstance(guarded, RowResult)
    assert guarded.email == "-dash@x.go.th" and guarded.display_name == "=SUM(1)"  # type: ignore[attr-defined]


def domain(**limits: int) -> Domain:
    return Domain("x.go.th", limits=DomainLimits(**limits))


def plan_all(planner: Planner, rows: list[object], holders: dict[str, Holder] | None = None) -> list[object]:
    return [planner.plan(r, holders or {}) for r in rows]  # type: ignore[arg-type]


def test_limits_count_rows_before() -> None:
    planner = Planner({"x.go.th": domain(max_accounts=2, quota_pool=10 * GiB, default_quota=GiB)})
    out = plan_all(planner, [_row(1, "a@x.go.th", quota="4G"), _row(2, "b@x.go.th", quota="7G"),
                             _row(3, "c@x.go.th", quota="5G"), _row(4, "d@x.go.th", quota="1G")])
    assert [type(o).__name__ for o in out] == ["PlannedRow", "RowResult", "PlannedRow", "RowResult"]
    assert out[1].column == "quota" and "pool" in out[1].reason  # type: ignore[attr-defined]
    assert out[3].column == "email" and "at most 2" in out[3].reason  # type: ignore[attr-defined]


def test_duplicates_conflicts_and_updates() -> None:
    planner = Planner({"x.go.th": domain()})
    existing = Account("old@x.go.th", "x.go.th", GiB, given_name="Old")
    holders = {
        "old@x.go.th": Holder("old@x.go.th", "account", "old@x.go.th", existing),
        "taken@x.go.th": Holder("taken@x.go.th", "alias", "taken@x.go.th"),
    }
    out = plan_all(planner, [
        _row(1, "new@x.go.th", aliases="n2@x.go.th"),
        _row(2, "new@x.go.th"),  # duplicate
        _row(3, "n2@x.go.th"),  # the alias of row 1
        _row(4, "taken@x.go.th"),  # an alias entry
        _row(5, "other@x.go.th", aliases="taken@x.go.th"),
        _row(6, "old@x.go.th", given_name="Old"),  # same values
        _row(7, "z@elsewhere.go.th"),
    ], holders)
    assert isinstance(out[0], PlannedRow) and out[0].action is Action.CREATE
    assert [o.column for o in out[1:5]] == ["email", "email", "email", "aliases"]  # type: ignore[attr-defined]
    assert "row 1" in out[1].reason  # type: ignore[attr-defined]
    assert isinstance(out[5], PlannedRow) and out[5].action is Action.UNCHANGED
    assert isinstance(out[6], RowResult) and out[6].reason == "domain elsewhere.go.th is not hosted here"
    changed = planner.plan(_row(8, "old@x.go.th", quota="2G"), holders)  # type: ignore[arg-type]
    assert isinstance(changed, RowResult) and "duplicate" in changed.reason
    fresh = Planner({"x.go.th": domain()}).plan(_row(1, "old@x.go.th", quota="2G", status="disabled"), holders)  # type: ignore[arg-type]
    assert isinstance(fresh, PlannedRow) and fresh.action is Action.UPDATE
    assert fresh.changes == {"quota": 2 * GiB, "status": fresh.account.status} and fresh.account.given_name == "Old"
