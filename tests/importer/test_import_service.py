"""The import service against the real slapd (fixture `stack`), with files from the
project's own generator: exact reports, idempotence, updates, limits, export round trip,
domain admins."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pytest

from mailgothai.core.models import Account, Role
from mailgothai.datagen import CRYPT_PASSWORD, Spec, generate, pool_password
from mailgothai.datagen.badrows import KINDS
from mailgothai.services.actor import Actor, admin_actor
from mailgothai.services.exports import ExportService
from mailgothai.services.imports import ImportService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from tests.importer.helpers import expected_rows

pytestmark = pytest.mark.sql


def tag() -> str:
    return "i" + uuid.uuid4().hex[:8]


def importer(services: Services) -> ImportService:
    return ImportService(services.backends, services.actor)


def load_domains(services: Services, folder: Path) -> list[str]:
    summary = importer(services).import_domains(folder / "domains.csv")
    assert summary.bad == () and summary.created > 0
    with open(folder / "domains.csv", "rb") as fh:
        text = fh.read()
    encoding = "utf-8-sig" if text.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        rows = list(csv.DictReader(io.StringIO(text.decode(encoding))))
    except UnicodeDecodeError:
        rows = list(csv.DictReader(io.StringIO(text.decode("cp874"))))
    return [r["domain"] for r in rows]


def snapshot(services: Services, domains: list[str]) -> tuple[dict[str, Account], dict[str, tuple[int, int]]]:
    accounts = {a.email: a for d in domains for a in services.accounts.iter_domain(d)}
    counters = {}
    for d in domains:
        domain = services.domains.get(d)
        counters[d] = (domain.account_count, domain.quota_allocated)
    return accounts, counters


def creates_in_audit(services: Services, domains: list[str]) -> list[str]:
    out = []
    for d in domains:
        out += [e.object_id for e in services.backends.audit.query(domain=d, action="account.create", limit=100000)]
    return out


def file_rows(path: Path, encoding: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding=encoding) as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp874"])
def test_generated_file_rejects_exactly_the_bad_rows(services: Services, tmp_path: Path, encoding: str) -> None:
    manifest = generate(Spec(tmp_path, domains=6, accounts=150, bad_rows=2 * len(KINDS), awkward_rows=22,
                             encoding=encoding, passwords="mixed", tag=tag(), hash_cost=(1, 1024)))
    domains = load_domains(services, tmp_path)
    summary = importer(services).run_file(tmp_path / "accounts.csv")
    bad = {r.row for r in importer(services).rows(summary.job.id, only_bad=True, limit=10_000)}
    assert bad == expected_rows(tmp_path)  # no bad row applied, no good row rejected
    assert summary.created == manifest.accounts_valid and summary.failed == 0
    assert summary.job.encoding == encoding

    accounts, counters = snapshot(services, domains)
    assert len(accounts) == manifest.accounts_valid
    rows = file_rows(tmp_path / "accounts.csv", "utf-8-sig" if encoding == "utf-8-sig" else encoding)
    awkward = [r for r in rows if r["surname"] == "ชื่อแปลก"]
    assert len(awkward) == 22
    for r in awkward:  # stored exactly as written
        stored = accounts[r["email"]]
        assert (stored.given_name, stored.surname, stored.display_name) == (r["given_name"], r["surname"],
                                                                            r["display_name"])
    for d in domains:  # the domain counters match the accounts
        mine = [a for a in accounts.values() if a.domain == d]
        assert counters[d] == (len(mine), sum(a.quota for a in mine))

    # Every password form logs in (slapd verifies: argon2id, {SSHA}, {SSHA512}, {CRYPT}).
    bad_rows = expected_rows(tmp_path)
    good = [r for n, r in enumerate(rows, start=1) if n not in bad_rows and r["status"] == "active"]
    by_kind = {}
    for r in good:
        pw = r["password"]
        kind = "blank" if not pw else pw[1:pw.index("}")] if pw.startswith("{") else "plain"
        by_kind.setdefault(kind, r)
    assert {"plain", "blank", "ARGON2", "SSHA", "SSHA512", "CRYPT"} <= set(by_kind)
    result = importer(services).result_file(summary.job.id)
    assert result is not None and (result.stat().st_mode & 0o777) == 0o600
    generated = {r["email"]: r["generated_password"] for r in file_rows(result, "utf-8-sig")}
    assert generated[by_kind["blank"]["email"]]
    assert sum(1 for v in generated.values() if v) == sum(
        1 for n, r in enumerate(rows, start=1) if n not in bad_rows and not r["password"])
    check = services.accounts.check_login
    assert check(by_kind["plain"]["email"], by_kind["plain"]["password"])
    assert check(by_kind["blank"]["email"], generated[by_kind["blank"]["email"]])
    assert check(by_kind["CRYPT"]["email"], CRYPT_PASSWORD)
    assert any(check(by_kind["ARGON2"]["email"], pool_password(i)) for i in range(64))
    assert not check(by_kind["plain"]["email"], "wrong-password-1")


@pytest.fixture(params=["preload", "per-address"])
def lookup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways validation learns what the directory holds: reading whole domains, or
    batched searches for the file's addresses (used when a file covers little of a domain)."""
    if request.param == "per-address":
        import mailgothai.services.import_validation as validation

        monkeypatch.setattr(validation, "PRELOAD_FACTOR", 0)
        monkeypatch.setattr(validation, "PRELOAD_SMALL", -1)
    return str(request.param)


def test_rerun_changes_nothing_and_a_changed_quota_changes_one_account(services: Services, tmp_path: Path,
                                                                         lookup: str) -> None:
    generate(Spec(tmp_path, domains=4, accounts=80, bad_rows=len(KINDS), awkward_rows=12, passwords="plain",
                  tag=tag()))
    domains = load_domains(services, tmp_path)
    first = importer(services).run_file(tmp_path / "accounts.csv")
    before, counters_before = snapshot(services, domains)
    audit_before = len(creates_in_audit(services, domains))

    again = importer(services).run_file(tmp_path / "accounts.csv")
    assert (again.created, again.updated, again.to_create, again.to_update) == (0, 0, 0, 0)
    assert again.unchanged == first.created
    assert {r.row for r in importer(services).rows(again.job.id, limit=10_000)} == expected_rows(tmp_path)
    assert snapshot(services, domains) == (before, counters_before)
    assert len(creates_in_audit(services, domains)) == audit_before

    rows = file_rows(tmp_path / "accounts.csv", "utf-8")
    bad = expected_rows(tmp_path)
    target = next(r for n, r in enumerate(rows, start=1) if n not in bad and r["quota"] in ("", "1G", "2G"))
    target["quota"] = "3G"
    changed = tmp_path / "changed.csv"
    with open(changed, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    third = importer(services).run_file(changed)
    assert (third.created, third.updated, third.to_update) == (0, 1, 1)
    after, counters_after = snapshot(services, domains)
    differing = {e for e in before if before[e] != after[e]}
    assert differing == {target["email"]}
    assert after[target["email"]].quota == 3 * 1024**3
    d = after[target["email"]].domain
    delta = 3 * 1024**3 - before[target["email"]].quota
    assert counters_after[d] == (counters_before[d][0], counters_before[d][1] + delta)
    assert {k: v for k, v in counters_after.items() if k != d} == {k: v for k, v in counters_before.items() if k != d}
    updates = services.backends.audit.query(object_id=target["email"], action="account.update")
    assert len(updates) == 1 and updates[0].after["quota"] == 3 * 1024**3


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",",
              encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_limits_overflow_rows_are_reported_and_not_applied(services: Services, tmp_path: Path, lookup: str) -> None:
    name = f"{tag()}.go.th"
    services.domains.add(name, max_accounts=3, quota_pool="10G", default_quota="1G")
    services.accounts.add(f"existing@{name}", PasswordInput(generate=True), quota="2G")
    path = write_csv(tmp_path / "a.csv", ["quota", "E-mail", "password", "Department"], [
        ["3G", f"a@{name}", "", "IT"], ["6G", f"b@{name}", "", ""],  # b: 2+3+6 > 10G pool
        ["1G", f"c@{name}", "", ""], ["1G", f"d@{name}", "", ""],  # d: a 4th account
        ["", f"e@{name}", "", ""],
    ], delimiter=";")
    summary = importer(services).run_file(path)
    assert summary.job.delimiter == ";" and summary.job.unknown_columns == ("Department",)
    bad = {r.row: r for r in importer(services).rows(summary.job.id)}
    assert set(bad) == {2, 4, 5}
    assert bad[2].column == "quota" and "pool" in bad[2].reason
    assert bad[4].column == "email" and "at most 3 accounts" in bad[4].reason
    emails = {a.email for a in services.accounts.iter_domain(name)}
    assert emails == {f"existing@{name}", f"a@{name}", f"c@{name}"}
    domain = services.domains.get(name)
    assert (domain.account_count, domain.quota_allocated) == (3, 6 * 1024**3)


def test_export_then_import_changes_nothing(services: Services, tmp_path: Path) -> None:
    generate(Spec(tmp_path, domains=3, accounts=40, awkward_rows=len(__import__(
        "mailgothai.datagen.words", fromlist=["AWKWARD_NAMES"]).AWKWARD_NAMES), passwords="blank", tag=tag()))
    domains = load_domains(services, tmp_path)
    importer(services).run_file(tmp_path / "accounts.csv")
    alias_domain = domains[0]
    services.accounts.update(f"awkward0@{alias_domain}" if services.backends.accounts.find(
        f"awkward0@{alias_domain}") else next(services.accounts.iter_domain(alias_domain)).email,
        aliases=f"=x@{alias_domain};-y@{alias_domain}", forwards="+z@example.org")
    before = snapshot(services, domains)
    audit_before = services.backends.audit.count()
    out = tmp_path / "export.csv"
    with open(out, "w", newline="", encoding="utf-8-sig") as fh:
        summary = ExportService(services.backends, services.actor).export(fh, domains=domains)
    assert summary.accounts == len(before[0])
    text = out.read_text(encoding="utf-8-sig")
    assert "\"'=HYPERLINK(" in text and ",'-minus first," in text and ",'=x@" in text and "{ARGON2}" not in text
    for exported in csv.DictReader(io.StringIO(text)):
        assert exported["password"] == ""
        assert not exported["display_name"].startswith(("=", "+", "-", "@"))

    again = importer(services).run_file(out)
    assert (again.created, again.updated, again.rejected, again.failed) == (0, 0, 0, 0)
    assert again.unchanged == summary.accounts
    assert snapshot(services, domains) == before
    assert services.backends.audit.count() == audit_before


def test_domain_admin_imports_only_into_own_domains(services: Services, stack: Settings, tmp_path: Path,
                                                   lookup: str) -> None:
    mine, other = f"{tag()}.go.th", f"{tag()}.go.th"
    for d in (mine, other):
        services.domains.add(d, description="test")
    services.accounts.add(f"taken@{other}", PasswordInput(generate=True))
    admin, _ = services.admins.add(f"adm-{uuid.uuid4().hex[:6]}", "domain_admin", PasswordInput(generate=True),
                                   domains=(mine,))
    path = write_csv(tmp_path / "a.csv", ["email", "aliases", "password"], [
        [f"ok@{mine}", "", ""], [f"x@{other}", "", ""], [f"y@nowhere-{tag()}.go.th", "", ""],
        [f"z@{mine}", f"zz@{other}", ""],
    ])
    actor = admin_actor(admin, "test")
    with Services.open(stack, actor) as as_admin:
        service = ImportService(as_admin.backends, actor)
        summary = service.run_file(path)
        bad = {r.row: r for r in service.rows(summary.job.id)}
        assert service.list_jobs()[0].id == summary.job.id
    assert summary.created == 1 and set(bad) == {2, 3, 4}
    assert bad[2].reason == f"domain {other} is not hosted here"  # existing or not: the same answer
    assert bad[3].reason.startswith("domain nowhere-") and bad[3].reason.endswith(" is not hosted here")
    assert bad[4].column == "aliases" and bad[4].reason == f"zz@{other}: domain {other} is not hosted here"
    assert {a.email for a in services.accounts.iter_domain(other)} == {f"taken@{other}"}
    other_admin = Actor("someone-else", Role.DOMAIN_ADMIN, frozenset({other}), "test")
    with Services.open(stack, other_admin) as svc, pytest.raises(Exception, match="not found"):
        ImportService(svc.backends, other_admin).job_status(summary.job.id)


class Crash(BaseException):
    """Stands for the process dying (kill -9, power cut) at one exact point."""


def test_crash_between_directory_writes_and_outcome_commit(services: Services, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mailgothai.store.jobs import JobStore, RowState

    manifest = generate(Spec(tmp_path, domains=3, accounts=600, passwords="mixed", tag=tag(), hash_cost=(1, 1024)))
    domains = load_domains(services, tmp_path)
    service = importer(services)
    job = service.start_job(tmp_path / "accounts.csv")
    service.validate(job.id)
    original = JobStore.finish_rows
    calls = []

    def dies_on_second_chunk(self: JobStore, job_id: int, outcomes: list) -> None:  # type: ignore[type-arg]
        calls.append(len(outcomes))
        if len(calls) == 3:  # recover() commits first (nothing to settle), then one call per chunk
            raise Crash()
        original(self, job_id, outcomes)

    monkeypatch.setattr(JobStore, "finish_rows", dies_on_second_chunk)
    with pytest.raises(Crash):
        service.apply(job.id)
    monkeypatch.setattr(JobStore, "finish_rows", original)
    jobs = JobStore(services.backends.store)
    inflight = [r.email for r in jobs.iter_rows(job.id, (RowState.INFLIGHT,))]
    assert len(inflight) == calls[-1] > 0  # written to the directory, outcome not committed
    assert all(services.backends.accounts.find(e) is not None for e in inflight)
    assert len(creates_in_audit(services, domains)) == calls[1]  # only the first chunk's

    summary = service.resume(job.id)
    assert summary.created == manifest.accounts_valid and summary.failed == 0
    created = creates_in_audit(services, domains)
    assert len(created) == len(set(created)) == manifest.accounts_valid
    accounts, counters = snapshot(services, domains)
    for d in domains:
        mine = [a for a in accounts.values() if a.domain == d]
        assert counters[d] == (len(mine), sum(a.quota for a in mine))


def test_conflicts_with_aliases_in_the_directory(services: Services, tmp_path: Path, lookup: str) -> None:
    name = f"{tag()}.go.th"
    services.domains.add(name)
    services.accounts.add(f"boss@{name}", PasswordInput(generate=True), aliases=f"info@{name}")
    services.aliases.add(f"helpdesk@{name}", (f"boss@{name}",))
    path = write_csv(tmp_path / "a.csv", ["email", "aliases"], [
        [f"helpdesk@{name}", ""], [f"x@{name}", f"info@{name}"], [f"info@{name}", ""],
        [f"y@{name}", f"z@{name}"], [f"boss@{name}", f"info@{name};chief@{name}"],
    ])
    summary = importer(services).run_file(path)
    bad = {r.row: r for r in importer(services).rows(summary.job.id)}
    assert set(bad) == {1, 2, 3}, bad
    assert bad[1].column == "email" and "in use by an alias" in bad[1].reason
    assert bad[2].column == "aliases" and "in use by an account alias" in bad[2].reason
    assert bad[3].column == "email" and "account alias" in bad[3].reason
    assert (summary.created, summary.updated) == (1, 1)
    assert services.accounts.get(f"boss@{name}").aliases == (f"info@{name}", f"chief@{name}")
    assert services.accounts.get(f"y@{name}").aliases == (f"z@{name}",)


def test_import_domains_adds_updates_and_reports(services: Services, tmp_path: Path) -> None:
    t = tag()
    path = write_csv(tmp_path / "d.csv", ["domain", "description", "max_accounts", "quota", "default_quota"], [
        [f"a.{t}.go.th", "กรมทดสอบ", "100", "50G", "1G"], [f"b.{t}.go.th", "", "10", "1G", "2G"],  # default > pool
        [f"bad_name.{t}.go.th", "", "1", "1G", "1G"], [f"c.{t}.go.th", "", "-1", "", ""],
    ])
    first = importer(services).import_domains(path)
    assert (first.created, first.updated, first.unchanged) == (1, 0, 0)
    assert {r.row: r.column for r in first.bad} == {2: "default_quota", 3: "domain", 4: "max_accounts"}
    audit = services.backends.audit.count(domain=f"a.{t}.go.th")
    again = importer(services).import_domains(path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert services.backends.audit.count(domain=f"a.{t}.go.th") == audit
    changed = write_csv(tmp_path / "e.csv", ["domain", "max_accounts"], [[f"a.{t}.go.th", "200"]])
    third = importer(services).import_domains(changed)
    assert third.updated == 1 and services.domains.get(f"a.{t}.go.th").limits.max_accounts == 200


@pytest.mark.parametrize("looks_before_writing", [True, False], ids=["looked-up", "race-after-the-look"])
def test_an_address_taken_after_validation_fails_alone(services: Services, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       looks_before_writing: bool) -> None:
    """New accounts are written 64 at a time in one LDAP transaction, which one taken
    address makes slapd refuse whole: that row must fail alone, the others be written."""
    name = f"{tag()}.go.th"
    services.domains.add(name, max_accounts=100)
    path = write_csv(tmp_path / "a.csv", ["email", "password"], [[f"u{i}@{name}", ""] for i in range(99)])
    service = importer(services)
    job = service.start_job(path)
    assert service.validate(job.id).to_create == 99
    services.accounts.add(f"u50@{name}", PasswordInput(generate=True), given_name="ก่อน")  # someone, meanwhile
    if not looks_before_writing:  # the address is taken between the importer's look and its write
        monkeypatch.setattr("mailgothai.services.import_apply.in_use", lambda *args: set())
    summary = service.apply(job.id)
    bad = {r.row: r for r in service.rows(job.id)}
    assert set(bad) == {51} and bad[51].reason == f"u50@{name} was created by someone else meanwhile"
    assert summary.created == 98 and summary.failed == 1
    assert services.accounts.get(f"u50@{name}").given_name == "ก่อน"  # untouched
    assert {a.email for a in services.accounts.iter_domain(name)} == {f"u{i}@{name}" for i in range(99)}
    domain = services.domains.get(name)
    assert domain.account_count == 99  # the failed row's reservation was given back
    with open(service.result_file(job.id) or "", newline="", encoding="utf-8-sig") as fh:
        passwords = {r["email"]: r["generated_password"] for r in csv.DictReader(fh)}
    assert passwords[f"u50@{name}"] == "" and all(passwords[f"u{i}@{name}"] for i in range(99) if i != 50)


def domain_admin_of(services: Services, domain: str) -> Actor:
    admin, _ = services.admins.add(f"adm-{uuid.uuid4().hex[:6]}", "domain_admin", PasswordInput(generate=True),
                                   domains=(domain,))
    return admin_actor(admin, "test")


def holders_in_directory(services: Services, address: str) -> list[str]:
    """Every entry holding `address`, as mail or as an account's alias, in any domain."""
    from mailgothai.directory import escaping as f

    b = services.backends
    flt = f.any_of(f.eq("mail", address), f.eq("mgtAliasAddress", address))
    return [e.dn for e in b.gateway.as_application().search(b.layout.domains, flt, ("mail",))]


@pytest.mark.parametrize("as_admin", [False, True], ids=["operator", "domain-admin"])
def test_an_alias_of_another_domains_account_is_in_use(services: Services, stack: Settings, tmp_path: Path,
                                                       lookup: str, as_admin: bool) -> None:
    """xa@D held as mgtAliasAddress by an account of E: a row xa@D (or a row giving it as an
    alias) is bad, whoever imports, and names nothing of E."""
    mine, other = f"{tag()}.go.th", f"{tag()}.go.th"
    for d in (mine, other):
        services.domains.add(d)
    services.accounts.add(f"xo@{other}", PasswordInput(generate=True), aliases=f"xa@{mine};xb@{mine}")
    path = write_csv(tmp_path / "a.csv", ["email", "aliases"], [
        [f"xa@{mine}", ""], [f"ok@{mine}", f"xb@{mine}"], [f"fine@{mine}", ""],
    ])
    actor = domain_admin_of(services, mine) if as_admin else services.actor
    with Services.open(stack, actor) as svc:
        service = ImportService(svc.backends, actor)
        summary = service.run_file(path)
        bad = {r.row: r for r in service.rows(summary.job.id)}
    assert set(bad) == {1, 2}, bad
    assert bad[1].column == "email" and "in use by an account alias" in bad[1].reason
    assert bad[2].column == "aliases" and "in use by an account alias" in bad[2].reason
    assert all(other not in r.reason for r in bad.values())  # another agency's entry is not named
    assert summary.created == 1
    assert len(holders_in_directory(services, f"xa@{mine}")) == len(holders_in_directory(services, f"xb@{mine}")) == 1


@pytest.mark.parametrize("taken_as", ["alias", "own"])
def test_an_alias_taken_between_validation_and_apply_fails_the_row(services: Services, tmp_path: Path,
                                                                   taken_as: str) -> None:
    """The importer looks again just before writing: an address a row writes as an alias
    (or as its own address) that another domain's account took as its alias since the
    validation fails the row; the address keeps one holder."""
    name, other = f"{tag()}.go.th", f"{tag()}.go.th"
    services.domains.add(name, max_accounts=100)
    services.domains.add(other)
    services.accounts.add(f"old@{name}", PasswordInput(generate=True))
    rows = [[f"u{i}@{name}", f"al{i}@{name}"] for i in range(10)] + [[f"old@{name}", f"oldal@{name}"]]
    path = write_csv(tmp_path / "a.csv", ["email", "aliases"], rows)
    service = importer(services)
    job = service.start_job(path)
    summary = service.validate(job.id)
    assert (summary.to_create, summary.to_update) == (10, 1)
    if taken_as == "alias":
        meanwhile = (f"al5@{name}", f"oldal@{name}")
    else:
        meanwhile = (f"u5@{name}",)
    services.accounts.add(f"thief@{other}", PasswordInput(generate=True), aliases=";".join(meanwhile))
    summary = service.apply(job.id)
    bad = {r.row: r for r in service.rows(job.id)}
    if taken_as == "alias":
        assert set(bad) == {6, 11}, bad
        assert bad[6].column == "aliases" and bad[6].reason == f"al5@{name} is already in use by an account alias"
        assert bad[11].column == "aliases"
        assert services.accounts.get(f"old@{name}").aliases == ()
        assert summary.created == 9 and summary.failed == 2
    else:
        assert set(bad) == {6} and bad[6].column == "email" and "account alias" in bad[6].reason
        assert summary.created == 9 and summary.updated == 1
    for address in meanwhile:
        assert holders_in_directory(services, address) == holders_in_directory(services, f"thief@{other}")
    assert services.backends.accounts.find(f"u5@{name}") is None or taken_as == "alias"
    domain = services.domains.get(name)
    assert domain.account_count == len(list(services.accounts.iter_domain(name)))


def result_passwords(service: ImportService, job_id: int) -> dict[str, tuple[str, str]]:
    with open(service.result_file(job_id) or "", newline="", encoding="utf-8-sig") as fh:
        return {r["email"]: (r["outcome"], r["generated_password"]) for r in csv.DictReader(fh)}


def test_a_crash_when_the_job_is_marked_done_loses_no_generated_password(services: Services, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The DONE update fails once (the process dies there, or the SQL server is gone) after
    the result file was written: the resume writes it again, every generated password kept."""
    from mailgothai.store.jobs import JobState, JobStore

    name = f"{tag()}.go.th"
    services.domains.add(name)
    path = write_csv(tmp_path / "a.csv", ["email", "password"],
                     [[f"g{i}@{name}", ""] for i in range(5)] + [[f"p@{name}", "Plain-pass-9x"]])
    service = importer(services)
    job = service.start_job(path)
    service.validate(job.id)
    original, failures = JobStore.update, []

    def fails_once_on_done(self: JobStore, job_id: int, **values: object) -> None:
        if values.get("state") is JobState.DONE and not failures:
            failures.append(values)
            raise Crash()
        original(self, job_id, **values)

    monkeypatch.setattr(JobStore, "update", fails_once_on_done)
    with pytest.raises(Crash):
        service.apply(job.id)
    assert failures and service.get_job(job.id).state is JobState.APPLYING
    summary = service.resume(job.id)
    assert summary.job.state is JobState.DONE and summary.created == 6
    got = result_passwords(service, job.id)
    assert all(got[f"g{i}@{name}"][0] == "created" and got[f"g{i}@{name}"][1] for i in range(5)), got
    assert got[f"p@{name}"] == ("created", "")  # a password given in the file is not repeated
    for i in range(5):
        assert services.accounts.check_login(f"g{i}@{name}", got[f"g{i}@{name}"][1])
    from mailgothai.services.import_files import JOURNAL

    assert not (Path(service.result_file(job.id) or "").parent / JOURNAL).exists()  # gone once DONE


def rows_by_state(job_id: int, services: Services) -> dict[str, int]:
    from mailgothai.store.jobs import JobStore

    out: dict[str, int] = {}
    for r in JobStore(services.backends.store).iter_rows(job_id):
        out[r.state.value] = out.get(r.state.value, 0) + 1
    return out


def test_a_failed_apply_gives_back_the_room_it_did_not_use(services: Services, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """slapd stops answering the writes half-way: the job fails, holding no room in the
    domain (the counter is the real number of accounts); its rows say what was written;
    the resume books again what it still needs and finishes."""
    import mailgothai.services.import_apply as import_apply
    from mailgothai.errors import DirectoryUnreachable
    from mailgothai.store.jobs import JobState

    name = f"{tag()}.go.th"
    services.domains.add(name, max_accounts=500, quota_pool="1000G", default_quota="1G")
    services.accounts.add(f"before@{name}", PasswordInput(generate=True))
    path = write_csv(tmp_path / "a.csv", ["email", "password"], [[f"u{i}@{name}", ""] for i in range(400)])
    service = importer(services)
    job = service.start_job(path)
    assert service.validate(job.id).to_create == 400  # chunks of 256, then 64 (while hashing)
    accounts = services.backends.accounts
    real_create_all, real_create, batches = accounts.create_all, accounts.create, []

    def create_all(*args: object, **kwargs: object) -> None:
        batches.append(1)
        if len(batches) > 1:
            raise DirectoryUnreachable("slapd went away")
        real_create_all(*args, **kwargs)  # type: ignore[arg-type]

    def create(*args: object, **kwargs: object) -> None:
        if batches and len(batches) > 1:
            raise DirectoryUnreachable("slapd went away")
        real_create(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(accounts, "create_all", create_all)
    monkeypatch.setattr(accounts, "create", create)
    monkeypatch.setattr(import_apply, "RETRY_PAUSE_S", 0.0)
    with pytest.raises(DirectoryUnreachable):
        service.apply(job.id)
    assert service.get_job(job.id).state is JobState.FAILED
    real = len(list(services.accounts.iter_domain(name)))
    assert real == 257  # the first chunk's
    domain = services.domains.get(name)
    assert (domain.account_count, domain.quota_allocated) == (real, real * 1024**3)
    states = rows_by_state(job.id, services)
    assert states == {"applied": real - 1, "planned": 401 - real}, states  # nothing left in flight or booked

    monkeypatch.setattr(accounts, "create_all", real_create_all)
    monkeypatch.setattr(accounts, "create", real_create)
    summary = service.resume(job.id)
    assert summary.created == 400 and summary.failed == 0
    domain = services.domains.get(name)
    assert domain.account_count == len(list(services.accounts.iter_domain(name))) == 401


def test_recovery_does_not_erase_another_jobs_reservation(services: Services, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Job A crashes with a chunk in flight; job B books its room and is still running; A
    resumes: B's booking stays in the counter (A gives back only its own), so a third
    file cannot take B's room, and B, resumed, creates all it planned, within the limit."""
    from mailgothai.services.import_apply import Applier
    from mailgothai.store.jobs import JobStore

    name = f"{tag()}.go.th"
    services.domains.add(name, max_accounts=350, quota_pool="1000G", default_quota="1G")
    a_path = write_csv(tmp_path / "a.csv", ["email", "password"], [[f"a{i}@{name}", ""] for i in range(300)])
    b_path = write_csv(tmp_path / "b.csv", ["email", "password"], [[f"b{i}@{name}", ""] for i in range(50)])
    service = importer(services)
    job_a, job_b = service.start_job(a_path), service.start_job(b_path)
    assert service.validate(job_a.id).to_create == 300  # chunks of 256 and 44

    original, calls = JobStore.finish_rows, []

    def dies_on_second_chunk(self: JobStore, job_id: int, outcomes: list) -> None:  # type: ignore[type-arg]
        calls.append(len(outcomes))
        if len(calls) == 3:  # recover() commits first, then one call per chunk
            raise Crash()
        original(self, job_id, outcomes)

    monkeypatch.setattr(JobStore, "finish_rows", dies_on_second_chunk)
    with pytest.raises(Crash):
        service.apply(job_a.id)
    monkeypatch.setattr(JobStore, "finish_rows", original)

    assert service.validate(job_b.id).to_create == 50  # A's 300 are booked: 300 + 50 fit in 350

    def b_dies_after_booking(self: Applier, cells: object) -> None:
        raise Crash()  # B has booked its room and is still working (or was killed)

    real_run = Applier.run
    monkeypatch.setattr(Applier, "run", b_dies_after_booking)
    with pytest.raises(Crash):
        service.apply(job_b.id)
    monkeypatch.setattr(Applier, "run", real_run)

    assert service.resume(job_a.id).created == 300
    real = len(list(services.accounts.iter_domain(name)))
    assert real == 300
    assert services.domains.get(name).account_count == real + 50  # B's booking is still there

    c_path = write_csv(tmp_path / "c.csv", ["email", "password"], [[f"c0@{name}", ""]])
    c = service.run_file(c_path)
    assert c.created == 0 and c.rejected == 1  # the domain is full: B's room is B's

    summary = service.resume(job_b.id)
    assert summary.created == 50 and summary.failed == 0
    domain = services.domains.get(name)
    real = len(list(services.accounts.iter_domain(name)))
    assert domain.account_count == real == 350 <= domain.limits.max_accounts
    assert domain.quota_allocated == real * 1024**3
