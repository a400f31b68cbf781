"""Reading generated files the way the importer does, for the importer's tests."""

from __future__ import annotations

import csv
from pathlib import Path

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.csvimport import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
    Planner,
    RowResult,
    detect_format,
    map_header,
    parse_account_row,
    read_records,
)
from mailgothai.core.models import Domain, DomainLimits
from mailgothai.core.quota import parse_size


def expected_rows(folder: Path) -> set[int]:
    with open(folder / "expected_errors.csv", newline="", encoding="utf-8") as fh:
        return {int(r["row"]) for r in csv.DictReader(fh)}


def domains_of(folder: Path, encoding: str) -> dict[str, Domain]:
    out = {}
    with open(folder / "domains.csv", newline="", encoding=encoding) as fh:
        for r in csv.DictReader(fh):
            name = normalize_domain(r["domain"])
            out[name] = Domain(name, r["description"], limits=DomainLimits(
                max_accounts=int(r["max_accounts"]), quota_pool=parse_size(r["quota"]),
                default_quota=parse_size(r["default_quota"])))
    return out


def plan_offline(path: Path, domains: dict[str, Domain]) -> tuple[list[RowResult], list[object]]:
    """Every row through parse + plan with an empty directory: (bad rows, planned rows)."""
    bad: list[RowResult] = []
    planned: list[object] = []
    planner = Planner(domains)
    with open(path, "rb") as fh:
        fmt = detect_format(fh)
        header_cells, records = read_records(fh, fmt)
        header = map_header(header_cells, ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
        for record in records:
            parsed = parse_account_row(record, header)
            result = parsed if isinstance(parsed, RowResult) else planner.plan(parsed, {})
            (bad if isinstance(result, RowResult) else planned).append(result)
    return bad, planned
