"""The import and the password policy (issue 20) against the real slapd: a weak plain
password is a bad row of the dry run with column `password` and its reason, against the
domain's own policy; a stored hash from an older system cannot be checked and is taken;
a blank cell gets a generated password that meets the domain's policy and logs in."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest

from mailgothai.core.password_policy import Person, problems
from mailgothai.core.passwords import make_ssha
from mailgothai.services.imports import ImportService
from mailgothai.services.password_policy import PasswordPolicyService, policy_for
from mailgothai.services.registry import Services

pytestmark = pytest.mark.sql


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_weak_password_is_a_bad_row_of_the_dry_run_with_its_reason(services: Services, tmp_path: Path) -> None:
    name = f"i{uuid.uuid4().hex[:8]}.go.th"
    services.domains.add(name)
    PasswordPolicyService(services.backends, services.actor).set(name, {"min_length": 14})
    path = write_csv(tmp_path / "a.csv", ["email", "given_name", "surname", "password"], [
        [f"somchai@{name}", "Somchai", "Jaidee", "password1-long-enough"],  # no upper case
        [f"malee@{name}", "Malee", "Srisuk", "Srisuk-2026-Qx!"],  # her surname
        [f"dang@{name}", "Dang", "", "Tr4vel-lamp"],  # shorter than the domain's 14
        [f"nok@{name}", "Nok", "", "Password123456"],  # long enough, and common
        [f"old@{name}", "", "", make_ssha("weak")],  # a stored hash: cannot be checked
        [f"new@{name}", "Somsri", "", ""],  # generated
        [f"good@{name}", "Good", "", "Tr4vel-lamp-Oboe"],
    ])
    service = ImportService(services.backends, services.actor)
    summary = service.run_file(path, dry_run=True)
    bad = {r.row: r for r in service.rows(summary.job.id, only_bad=True)}
    assert {row: (r.column, r.reason) for row, r in bad.items()} == {
        1: ("password", "needs an upper-case letter"),
        2: ("password", "must not contain the account's address or name ('srisuk')"),
        3: ("password", "shorter than 14 characters"),
        4: ("password", "too easy to guess (strength 1 of 4, at least 2 needed): make it longer, "
                        "or add words that do not belong together"),
    }
    assert summary.to_create == 3
    assert [a.email for a in services.accounts.iter_domain(name)] == []  # a dry run writes nothing

    applied = service.run_file(path)
    assert applied.created == 3
    assert services.accounts.check_login(f"old@{name}", "weak")
    assert services.accounts.check_login(f"good@{name}", "Tr4vel-lamp-Oboe")
    with open(service.result_file(applied.job.id) or "", newline="", encoding="utf-8-sig") as fh:
        generated = {r["email"]: r["generated_password"] for r in csv.DictReader(fh)}[f"new@{name}"]
    assert problems(generated, policy_for(services.backends, name), Person(f"new@{name}", "Somsri")) == []
    assert len(generated) >= 16 and services.accounts.check_login(f"new@{name}", generated)
