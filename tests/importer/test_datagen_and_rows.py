"""The generator and the pure row checks together: the rows refused are exactly the
rows the generator lists as bad, in every encoding; awkward rows pass unchanged."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mailgothai.core.csvimport import Action, PlannedRow
from mailgothai.datagen import HEADER, Spec, generate
from mailgothai.datagen.__main__ import main as datagen_main
from mailgothai.datagen.badrows import KINDS
from tests.importer.helpers import domains_of, expected_rows, plan_offline


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp874"])
def test_refused_rows_equal_expected_errors(tmp_path: Path, encoding: str) -> None:
    manifest = generate(Spec(tmp_path, domains=12, accounts=400, bad_rows=3 * len(KINDS), awkward_rows=25,
                             encoding=encoding, passwords="mixed", hash_cost=(1, 1024)))
    assert manifest.bad_rows == 3 * len(KINDS)
    raw = (tmp_path / "accounts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    bad, planned = plan_offline(tmp_path / "accounts.csv", domains_of(tmp_path, encoding))
    assert {r.row for r in bad} == expected_rows(tmp_path)
    assert len(planned) == manifest.accounts_valid
    assert all(isinstance(p, PlannedRow) and p.action is Action.CREATE for p in planned)
    assert all(r.column and r.reason for r in bad if r.column != "")


def test_every_kind_is_reported_with_its_column(tmp_path: Path) -> None:
    generate(Spec(tmp_path, domains=5, accounts=100, bad_rows=len(KINDS), passwords="plain"))
    bad, _ = plan_offline(tmp_path / "accounts.csv", domains_of(tmp_path, "utf-8"))
    with open(tmp_path / "expected_errors.csv", newline="", encoding="utf-8") as fh:
        kinds = {int(r["row"]): r["reason"] for r in csv.DictReader(fh)}
    columns = {kinds[r.row]: r.column for r in bad}
    assert set(kinds.values()) == set(KINDS)
    assert columns == {
        "email_syntax": "email", "unknown_domain": "email", "duplicate": "email", "quota": "quota",
        "status": "status", "too_long": "display_name", "control_chars": "given_name",
        "alias_foreign": "aliases", "local_too_long": "email", "password": "password",
        "alias_taken": "aliases", "forward_syntax": "forward", "newline_in_name": "display_name",
    }


def test_awkward_rows_pass_with_their_names_unchanged(tmp_path: Path) -> None:
    generate(Spec(tmp_path, domains=3, accounts=30, awkward_rows=40, encoding="cp874", passwords="blank"))
    _, planned = plan_offline(tmp_path / "accounts.csv", domains_of(tmp_path, "cp874"))
    with open(tmp_path / "accounts.csv", newline="", encoding="cp874") as fh:
        awkward = {r["email"]: r for r in csv.DictReader(fh) if r["surname"] == "ชื่อแปลก"}
    assert len(awkward) == 40
    stored = {p.email: p.account for p in planned if isinstance(p, PlannedRow)}
    for email, row in awkward.items():
        assert stored[email].display_name == row["display_name"]
        assert stored[email].given_name == row["given_name"]
    names = {row["display_name"] for row in awkward.values()}
    assert {"  leading and trailing  ", "*)(uid=*", "Smith, John", "-minus first"} <= names


def test_full_size_shape_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert datagen_main(["--out", str(tmp_path), "--size", "tiny", "--passwords", "none", "--bad-rows", "4"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["domains"] == 5 and manifest["rows"] == 64 and manifest["bad_rows"] == 4
    with open(tmp_path / "accounts.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == HEADER
    assert all(r[4] == "" for r in rows[1:])  # blank passwords


def test_sizes_sum_and_are_heavy_tailed(tmp_path: Path) -> None:
    import random

    from mailgothai.datagen.generate import FULL_ACCOUNTS, FULL_DOMAINS, domain_sizes

    sizes = domain_sizes(FULL_DOMAINS, FULL_ACCOUNTS, random.Random(1))
    assert sum(sizes) == FULL_ACCOUNTS and min(sizes) >= 1
    assert sizes[0] == max(sizes) and sizes[0] > 30_000


def test_same_seed_same_files(tmp_path: Path) -> None:
    a = generate(Spec(tmp_path / "a", domains=4, accounts=50, bad_rows=5, passwords="plain"))
    b = generate(Spec(tmp_path / "b", domains=4, accounts=50, bad_rows=5, passwords="plain"))
    assert a.files == b.files
