"""`mailgothai load` reads its files with the importer's own row checks: a control
character (a NUL PostgreSQL cannot store, an escape that rewrites a terminal) in any
cell of the accounts or domains file refuses that row, naming its column; the other
rows are planned. (Rows are counted as the importer counts them: the first after the
header is row 1.)"""

from __future__ import annotations

from pathlib import Path

from mailgothai.services.offline_load import plan_load, read_domains


def test_control_characters_refuse_their_rows_naming_the_column(tmp_path: Path) -> None:
    domains_csv = tmp_path / "domains.csv"
    domains_csv.write_text("domain,description\n"
                           "good.go.th,กรมดี\n"
                           "nul.go.th,bad\x00name\n"
                           "esc.go.th,\x1b[2Jcleared\n", encoding="utf-8")
    domains = read_domains(domains_csv)
    assert list(domains.domains) == ["good.go.th"]
    assert [(r.row, r.column) for r in domains.bad] == [(2, "description"), (3, "description")]
    assert all("control character" in r.reason for r in domains.bad)

    accounts_csv = tmp_path / "accounts.csv"
    accounts_csv.write_text("email,display_name,password\n"
                            "somchai@good.go.th,สมชาย ใจดี,\n"
                            "nul@good.go.th,Nul\x00Person,\n"
                            "bell@good.go.th,Bell\x07,\n", encoding="utf-8")
    plan = plan_load(accounts_csv, domains)
    assert [r.account.email for r in plan.rows] == ["somchai@good.go.th"]
    assert [(r.row, r.column) for r in plan.bad] == [(2, "display_name"), (3, "display_name")]
    assert all("control character" in r.reason for r in plan.bad)
    assert plan.domains["good.go.th"].account_count == 1
