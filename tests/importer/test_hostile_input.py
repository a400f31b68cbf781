"""Files an agency's export or a hostile hand can give the importer: control characters in
cells, rows of absurd width, lines of many megabytes, hostile domain files. Each gives a
clear reason naming the row and the column (or the file), never a 500, a store error or a
blown memory."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest

from mailgothai.services.imports import ImportService
from mailgothai.services.registry import Services

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
