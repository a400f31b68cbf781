"""`mailgothai load` (issue 19, item 5): the offline first load with slapadd, against the
real slapd, Dovecot and SQL store of a stack of its own."""

from __future__ import annotations

import contextlib
import csv
import imaplib
import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.core.quota import parse_size
from mailgothai.datagen import Spec, generate
from mailgothai.errors import StackError
from mailgothai.services.actor import Actor
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import manager, offline_load, slapd
from mailgothai.stack.offline_load import existing_objects
from mailgothai.stack.process import run_tool
from tests.conftest import run_main, stack_data_dir, stack_settings
from tests.integration.conftest import AuditProbe, MailClients

CHEAP_POOL = (1, 1024)


@dataclass(frozen=True)
class DataSet:
    folder: Path

    @property
    def accounts(self) -> Path:
        return self.folder / "accounts.csv"

    @property
    def domains(self) -> Path:
        return self.folder / "domains.csv"

    def rows(self) -> list[dict[str, str]]:
        with open(self.accounts, newline="", encoding="utf-8-sig") as fh:
            return list(csv.DictReader(fh))

    def expected_errors(self) -> list[dict[str, str]]:
        with open(self.folder / "expected_errors.csv", newline="", encoding="utf-8-sig") as fh:
            return list(csv.DictReader(fh))


def _dataset(folder: Path, **spec: object) -> DataSet:
    generate(Spec(out=folder, domains=3, hash_cost=CHEAP_POOL, **spec))  # type: ignore[arg-type]
    return DataSet(folder)


def load(settings: Settings, data: DataSet, *more: str) -> tuple[int, str, str]:
    done = run_main(["--data-dir", str(settings.data_dir), "load", str(data.accounts), "--domains",
                     str(data.domains), *more])
    return done.returncode, done.stdout, done.stderr


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    data: DataSet
    stdout: str
    result: Path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A generated set (plain, blank and stored-hash passwords) loaded into a stopped,
    never-started stack, which is then started."""
    data = _dataset(tmp_path_factory.mktemp("set"), accounts=40, passwords="mixed")
    with stack_data_dir("load") as data_dir:
        settings = manager.prepare(stack_settings(data_dir))
        code, out, err = load(settings, data)
        assert code == 0, out + err
        result = Path(out.split("result file", 1)[1].split(": ", 1)[1].split()[0])
        state = manager.up(settings)
        try:
            yield Loaded(state.settings, data, out, result)
        finally:
            manager.down(state.settings)


def _expected_counters(data: DataSet, defaults: dict[str, int]) -> dict[str, tuple[int, int]]:
    count: Counter[str] = Counter()
    quota: Counter[str] = Counter()
    for row in data.rows():
        domain = row["email"].rpartition("@")[2].lower()
        count[domain] += 1
        quota[domain] += parse_size(row["quota"]) if row["quota"] else defaults[domain]
    return {d: (count[d], quota[d]) for d in count}


def test_loaded_accounts_are_there_with_their_domain_counters(loaded: Loaded) -> None:
    rows = loaded.data.rows()
    with Services.open(loaded.settings, Actor("test", Role.SUPERADMIN, origin="test")) as svc:
        domains = {d.name: d for d in svc.domains.list()}
        expected = _expected_counters(loaded.data, {n: d.limits.default_quota for n, d in domains.items()})
        assert {n: (d.account_count, d.quota_allocated) for n, d in domains.items()} == expected
        for name in domains:  # the counters are what the accounts add up to
            recounted = svc.backends.domains.recount(name)
            assert (recounted.account_count, recounted.quota_allocated) == expected[name]
        for row in rows:
            account = svc.backends.accounts.find(row["email"].lower())
            assert account is not None, row["email"]
            assert (account.given_name, account.surname, account.display_name) == (
                row["given_name"], row["surname"], row["display_name"])
            assert account.mailbox_id  # slapadd gave it its entryUUID: the mailbox's identity


def _imap_refusal(settings: Settings, user: str, password: str) -> str:
    """The server's text refusing a LOGIN ("" if it logged in)."""
    client = imaplib.IMAP4(settings.host, settings.imap_port, timeout=30)
    try:
        client.login(user, password)
    except imaplib.IMAP4.error as exc:
        return str(exc)
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return ""


def test_passwords_log_in_over_imap_and_generated_ones_must_change(loaded: Loaded) -> None:
    mail = MailClients(loaded.settings)
    active = [r for r in loaded.data.rows() if r["status"] in ("", "active")]
    plain = next(r for r in active if r["password"] and not r["password"].startswith("{"))
    assert mail.can_login(plain["email"], plain["password"])
    assert not mail.can_login(plain["email"], plain["password"] + "x")
    # Dovecot makes the mailbox at first delivery and login, as for any new account
    mail.deliver(plain["email"], b"Subject: hello\r\n\r\nafter the load\r\n")
    with mail.imap(plain["email"], plain["password"]) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 1

    with open(loaded.result, newline="", encoding="utf-8-sig") as fh:
        generated = list(csv.DictReader(fh))
    blank = [r for r in loaded.data.rows() if not r["password"]]
    assert sorted(g["email"] for g in generated) == sorted(r["email"].lower() for r in blank)
    # as the importer does by the domain's default: a generated password is changed at first login
    first = next(g for g in generated if g["email"] in {r["email"].lower() for r in active})
    refusal = _imap_refusal(loaded.settings, first["email"], first["password"])
    assert "Password change required" in refusal, refusal  # said for the right password only
    assert "Password change required" not in _imap_refusal(loaded.settings, first["email"], "Not-it-1x")
    with Services.open(loaded.settings, Actor("test", Role.SUPERADMIN, origin="test")) as svc:
        for row in loaded.data.rows():
            account = svc.backends.accounts.find(row["email"].lower())
            assert account is not None and account.must_change_password == (not row["password"]), row["email"]


def test_generated_passwords_file_is_owner_only(loaded: Loaded) -> None:
    assert stat.S_IMODE(loaded.result.stat().st_mode) == 0o600
    assert stat.S_IMODE(loaded.result.parent.stat().st_mode) == 0o700


def test_audit_records_as_the_importer_writes_them(loaded: Loaded) -> None:
    audit = AuditProbe(loaded.settings)
    assert audit.count(action="account.create") == len(loaded.data.rows())
    assert audit.count(action="domain.create") == 3
    load_id = loaded.stdout.split(":", 1)[0]
    assert audit.count(action="directory.load", object_id=load_id) == 1


def test_load_refused_while_slapd_runs_nothing_changed(loaded: Loaded, tmp_path: Path) -> None:
    audit = AuditProbe(loaded.settings)
    before = audit.count()
    other = _dataset(tmp_path / "other", accounts=5, passwords="hashed", tag="other")
    code, out, err = load(loaded.settings, other)
    assert code == 1 and "slapd is running" in err, out + err
    # without its PID file the running slapd still answers on its port: refused too
    pid_file = slapd.paths_for(loaded.settings).pid_file
    aside = pid_file.with_name("slapd.pid.aside")
    os.replace(pid_file, aside)
    try:
        code, out, err = load(loaded.settings, other)
    finally:
        os.replace(aside, pid_file)
    assert code == 1 and f"answers on 127.0.0.1:{loaded.settings.ldap_port}" in err, out + err
    assert audit.count() == before
    with Services.open(loaded.settings, Actor("test", Role.SUPERADMIN, origin="test")) as svc:
        assert sorted(d.name for d in svc.domains.list()) == sorted(
            {r["email"].rpartition("@")[2].lower() for r in loaded.data.rows()})


@pytest.fixture
def stopped(fresh_data_dir: Path) -> Settings:
    """A stack prepared as `stack up` leaves it, never started."""
    return manager.prepare(stack_settings(fresh_data_dir))


def _directory(settings: Settings) -> str:
    return run_tool([slapd._tool("slapcat"), "-n1", "-F", str(slapd.paths_for(settings).config_dir)])


def test_bad_rows_refused_with_their_reasons_nothing_changed(stopped: Settings, tmp_path: Path) -> None:
    data = _dataset(tmp_path / "bad", accounts=30, passwords="hashed", bad_rows=6)
    before = _directory(stopped)
    code, out, err = load(stopped, data, "--report", str(tmp_path / "report.csv"))
    assert code == 3 and "nothing loaded" in out, out + err
    for expected in data.expected_errors():
        assert f"accounts row {expected['row']}: " in err, (expected, err)
    with open(tmp_path / "report.csv", newline="", encoding="utf-8-sig") as fh:
        assert sorted(int(r["row"]) for r in csv.DictReader(fh)) == sorted(
            int(e["row"]) for e in data.expected_errors())
    assert _directory(stopped) == before
    assert not (stopped.data_dir / "loads").exists()
    assert AuditProbe(stopped).count() == 0

    # --skip-bad loads the others; then the directory is no longer empty: a second load is refused
    code, out, err = load(stopped, data, "--skip-bad")
    assert code == 3 and "loaded 30 accounts in 3 domains (" in out and "; 6 bad rows left out" in out, out + err
    assert existing_objects(stopped) == 30
    loaded = _directory(stopped)
    code, out, err = load(stopped, data)
    assert code == 3  # the same bad rows first, and now the domains the directory holds
    assert "domains row 2: domain: domain already exists: " in err, err
    code, out, err = load(stopped, data, "--skip-bad")
    assert code == 1 and "already holds 30 accounts, aliases, alias domains or shared mailboxes" in err, out + err
    assert _directory(stopped) == loaded


def test_a_load_killed_half_way_is_undone_by_the_next(stopped: Settings, tmp_path: Path) -> None:
    """The state a kill during slapadd leaves: the old database aside, a new one half
    written. The next load puts the old one back before anything else."""
    before = _directory(stopped)
    db = slapd.paths_for(stopped).db_dir
    backup = db.with_name(offline_load.BACKUP)
    os.replace(db, backup)
    (backup / offline_load.LOAD_ID_FILE).write_text("load-killed\n")
    db.mkdir(mode=0o700)  # an empty, half-made database
    data = _dataset(tmp_path / "set", accounts=10, passwords="hashed")
    code, out, err = load(stopped, data)
    assert code == 0, out + err
    assert "load load-killed had not completed: the database as it was before it is back" in err
    assert not backup.exists()
    after = _directory(stopped)
    assert after.startswith(before.split("\n\n")[0])  # the same base entry, same entryUUID
    assert existing_objects(stopped) == 10


def test_stack_up_settles_a_load_killed_half_way_first(stopped: Settings) -> None:
    """`stack up` after a load killed during slapadd starts on the database as it was."""
    db = slapd.paths_for(stopped).db_dir
    backup = db.with_name(offline_load.BACKUP)
    os.replace(db, backup)
    (backup / offline_load.LOAD_ID_FILE).write_text("load-killed\n")
    db.mkdir(mode=0o700)
    state = manager.up(stopped)
    try:
        assert not backup.exists()
        with Services.open(state.settings, Actor("test", Role.SUPERADMIN, origin="test")) as svc:
            svc.domains.add("after-recovery.example")  # the base entries are back: the directory works
            assert [d.name for d in svc.domains.list()] == ["after-recovery.example"]
    finally:
        manager.down(state.settings)


def test_the_import_rules_hold_limits_password_policy_and_files(stopped: Settings, tmp_path: Path) -> None:
    """A domain's maximum accounts and quota pool, the password policy, and a missing file:
    refused as `import --dry-run` refuses them, before anything is touched."""
    (tmp_path / "domains.csv").write_text("domain,description,max_accounts,quota,default_quota\n"
                                          "small.example,Small,2,3G,1G\npool.example,Pool,10,1G,600M\n")
    (tmp_path / "accounts.csv").write_text(
        "email,given_name,surname,display_name,password,quota,status,aliases,forward\n"
        "a@small.example,A,One,,Str0ng-Pass-word!x,,,,\n"
        "b@small.example,B,Two,,password1,,,,\n"          # row 2: weak for the policy
        "c@small.example,C,Three,,,,,,\n"
        "d@small.example,D,Four,,,,,,\n"                  # row 4: a third account of a domain of 2
        "e@pool.example,E,Five,,,,,,\n"
        "f@pool.example,F,Six,,,,,,\n")                   # row 6: 2 x 600M past a pool of 1G
    data = DataSet(tmp_path)
    code, out, err = load(stopped, data)
    assert code == 3, out + err
    lines = [line.strip() for line in err.splitlines() if line.strip().startswith("accounts row")]
    assert [line.split(":")[0] for line in lines] == ["accounts row 2", "accounts row 4", "accounts row 6"], err
    assert lines[0].startswith("accounts row 2: password: ")
    assert lines[1].startswith("accounts row 4: email: ") and "2" in lines[1]
    assert lines[2].startswith("accounts row 6: quota: ")
    assert existing_objects(stopped) == 0

    good = tmp_path / "good"
    good.mkdir()
    (good / "domains.csv").write_bytes((tmp_path / "domains.csv").read_bytes())
    (good / "accounts.csv").write_text("email,password\na@small.example,Str0ng-Pass-word!x\n")
    before = _directory(stopped)
    code, out, err = load(stopped, DataSet(good), "--dry-run")
    assert code == 0 and "dry run: 1 accounts in 2 domains would be loaded; nothing changed" in out, out + err
    assert _directory(stopped) == before and AuditProbe(stopped).count() == 0

    done = run_main(["--data-dir", str(stopped.data_dir), "load", str(tmp_path / "missing.csv"),
                     "--domains", str(data.domains)])
    assert done.returncode == 2 and "no such file" in done.stderr, done.stderr


def test_a_slapadd_failure_half_way_leaves_nothing(stopped: Settings, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """slapadd refusing an entry after it has written others: the old database is back,
    no audit record is committed, and the generated passwords' file is gone."""
    data = _dataset(tmp_path / "set", accounts=20, passwords="blank")
    before = _directory(stopped)
    real = offline_load.ldif_chunks

    def then_a_bad_entry(*args: object, **kwargs: object) -> Iterator[str]:
        yield from real(*args, **kwargs)  # type: ignore[arg-type]
        yield "dn: cn=broken,o=nowhere\nobjectClass: noSuchClass\ncn: broken\n\n"

    monkeypatch.setattr(offline_load, "ldif_chunks", then_a_bad_entry)
    with pytest.raises(StackError, match="slapadd failed"):
        offline_load.load(stopped, data.accounts, data.domains, actor="test")
    assert _directory(stopped) == before
    assert not slapd.paths_for(stopped).db_dir.with_name(offline_load.BACKUP).exists()
    assert AuditProbe(stopped).count() == 0
    assert list((stopped.data_dir / "loads").rglob("result.csv")) == []


def test_domains_the_directory_holds_take_the_load_with_their_counters(stopped: Settings, tmp_path: Path) -> None:
    """Domains added online (import-domains) and then the service stopped: `load` without
    --domains puts the accounts into them; each domain entry keeps its identity and gets
    the counters of its accounts; no second domain.create."""
    data = _dataset(tmp_path / "set", accounts=15, passwords="hashed")
    state = manager.up(stopped)
    try:
        done = run_main(["--data-dir", str(stopped.data_dir), "import-domains", str(data.domains)])
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        manager.down(state.settings)
    held = offline_load.existing_domains(stopped)
    uuids = {name: _entry_uuid(stopped, name) for name in held}
    done = run_main(["--data-dir", str(stopped.data_dir), "load", str(data.accounts), "--must-change"])
    assert done.returncode == 0 and "15 to change their password at next login" in done.stdout, done.stdout
    after = offline_load.existing_domains(stopped)
    expected = _expected_counters(data, {n: d.limits.default_quota for n, d in after.items()})
    assert {n: (d.account_count, d.quota_allocated) for n, d in after.items()} == expected
    assert {name: _entry_uuid(stopped, name) for name in after} == uuids
    assert {n: d.limits for n, d in after.items()} == {n: d.limits for n, d in held.items()}
    assert existing_objects(stopped) == 15
    marked = run_tool([slapd._tool("slapcat"), "-n1", "-F", str(slapd.paths_for(stopped).config_dir),
                       "-a", "(mgtMustChangePassword=TRUE)"])
    assert marked.count("\ndn: ") + marked.startswith("dn: ") == 15  # --must-change: every one
    assert AuditProbe(stopped).count(action="domain.create") == 3  # import-domains' own, none more


def _entry_uuid(settings: Settings, domain: str) -> str:
    text = run_tool([slapd._tool("slapcat"), "-n1", "-F", str(slapd.paths_for(settings).config_dir),
                     "-a", f"(&(objectClass=mgtDomain)(domainName={domain}))"])
    return next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("entryUUID: "))
