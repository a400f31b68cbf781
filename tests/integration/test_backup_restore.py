"""`mailgothai backup`, `backup verify` and `restore --data-dir NEW` (issue 19) against real
stacks of their own: a backup taken while mail flows through the relay and LMTP, restored
into a fresh data directory and started there; an incremental backup; tampered,
incomplete and misdirected backups refused with nothing changed."""

from __future__ import annotations

import contextlib
import os
import shutil
import smtplib
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap3
import pytest
import sqlalchemy
from conftest import stack_data_dir, stack_settings
from imapclient import IMAPClient
from relay.helpers import PASSWORD, dkimpy_verify, dns_records, fetch_all, message, submission, wait_for_messages

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager
from tests import pgcluster

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PORTS = ("ldap_port", "imap_port", "imaps_port", "lmtp_port", "managesieve_port", "smtp_port", "submission_port",
         "smtps_port", "web_port", "auth_policy_port", "rspamd_port", "rspamd_controller_port", "redis_port",
         "relay_metrics_port", "dovecot_metrics_port")


@dataclass
class Source:
    settings: Settings
    domain: str
    root: Path  # where this module's backups go

    def address(self, local: str) -> str:
        return f"{local}@{self.domain}"


def mailgothai(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
               ) -> subprocess.CompletedProcess[str]:
    """The real command, as an operator runs it (MAILGOTHAI_* only as given)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, (str(Path(__file__).resolve().parents[2]),
                                                        clean.get("PYTHONPATH"))))
    return subprocess.run([sys.executable, "-m", "mailgothai.cli.main", *args], capture_output=True, text=True,
                          env={**clean, **(env or {})}, timeout=600, check=False, cwd=cwd)


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    """A stack with one agency: four accounts (one imported), a DKIM key, mail in two mailboxes."""
    root = Path(tempfile.mkdtemp(prefix="mailgothai-backups-"))
    with stack_data_dir("backup-source") as data_dir:
        settings = manager.up(stack_settings(data_dir)).settings
        try:
            domain = f"b{uuid.uuid4().hex[:10]}.go.th"
            with Services.open(settings, Actor("test-operator", Role.SUPERADMIN, origin="test")) as svc:
                svc.domains.add(domain, description="backup test")
                for local in ("alice", "bob", "carol"):
                    svc.accounts.add(f"{local}@{domain}", PasswordInput(plain=PASSWORD))
                svc.aliases.add(f"team@{domain}", (f"alice@{domain}", f"bob@{domain}"))
                svc.dkim.generate(domain)
            src = Source(settings, domain, root)
            rows = root / "dave.csv"  # an import job: its files under DATA/imports are backed up too
            rows.write_text("email,given_name,surname,display_name,password,quota,status,aliases,forward\n"
                            f"dave@{domain},Dave,Daveson,Dave Daveson,{PASSWORD},,active,,\n")
            imported = mailgothai("--data-dir", str(data_dir), "import", str(rows))
            assert imported.returncode == 0, imported.stderr
            with submission(settings, src.address("alice")) as client:
                client.sendmail(src.address("alice"), [src.address("bob")],
                                message(src.address("alice"), src.address("bob"), "before the backup"))
            wait_for_messages(settings, src.address("bob"), 1)
            yield src
        finally:
            manager.down(settings)
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class Traffic:
    """Mail sent to carol without a pause, through the relay and LMTP, in a thread."""

    source: Source
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        s, carol, alice = self.source.settings, self.source.address("carol"), self.source.address("alice")
        try:
            with submission(s, alice) as relay, smtplib.LMTP(s.host, s.lmtp_port, timeout=30) as lmtp:
                while not self.stop.is_set():
                    relay.sendmail(alice, [carol], message(alice, carol, f"relay {self.sent}"))
                    lmtp.sendmail("someone@example.org", [carol], message("someone@example.org", carol,
                                                                          f"lmtp {self.sent}"))
                    self.sent += 2
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(exc))


@contextlib.contextmanager
def traffic(source: Source) -> Iterator[Traffic]:
    flow = Traffic(source)
    thread = threading.Thread(target=flow.run, daemon=True)
    thread.start()
    try:
        yield flow
    finally:
        flow.stop.set()
        thread.join(60)


@pytest.fixture(scope="module")
def during_traffic(source: Source) -> Path:
    """A backup taken while mail flows (and a reader's IMAP session moves new/ to cur/)."""
    out = source.root / "during"
    with traffic(source) as flow:
        wait_for_messages(source.settings, source.address("carol"), 4)  # mail is flowing
        sent_before = flow.sent
        done = mailgothai("--data-dir", str(source.settings.data_dir), "backup", "--out", str(out))
        fetch_all(source.settings, source.address("carol"))
        assert flow.sent > sent_before  # it flowed while the backup ran
    assert done.returncode == 0, done.stderr
    assert not flow.errors, flow.errors
    assert flow.sent > 4
    return out


def accounts(settings: Settings) -> list[str]:
    conn = ldap3.Connection(ldap3.Server(settings.host, port=settings.ldap_port, get_info=ldap3.NONE),
                            user=settings.ldap_manager_dn, password=str(settings.ldap_manager_password),
                            auto_bind=True)
    try:
        conn.search(f"ou=domains,{settings.ldap_base}", "(objectClass=mgtAccount)", attributes=["mail", "entryUUID"])
        return sorted(f"{e['attributes']['mail'][0]} {e['attributes']['entryUUID']}" for e in conn.response)
    finally:
        conn.unbind()


def audit_rows(settings: Settings) -> list[tuple[object, ...]]:
    engine = sqlalchemy.create_engine(settings.sql_url_effective)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sqlalchemy.text("SELECT * FROM audit_log ORDER BY id"))]
    finally:
        engine.dispose()


def restore_env() -> dict[str, str]:
    """On the PostgreSQL pass, the empty database a restore goes into."""
    return {"MAILGOTHAI_SQL_URL": pgcluster.cluster().new_database()} if pgcluster.wanted() else {}


def new_ports(data_dir: Path, **more: object) -> dict[str, str]:
    """MAILGOTHAI_* variables giving a restore ports of its own (the source still runs here):
    a restore takes them over the backup's settings and writes them into NEW's."""
    fresh = stack_settings(data_dir, sql_url="sqlite://")
    values: dict[str, object] = {name: getattr(fresh, name) for name in PORTS} | more
    return {f"MAILGOTHAI_{name.upper()}": ",".join(map(str, v)) if isinstance(v, tuple) else str(v)
            for name, v in values.items()}


@contextlib.contextmanager
def restored_stack(backup: Path) -> Iterator[Settings]:
    """`restore BACKUP --data-dir NEW` with new ports, then `stack up`."""
    with stack_data_dir("restored") as new:
        ports = new_ports(new)
        done = mailgothai("restore", str(backup), "--data-dir", str(new), env=restore_env() | ports)
        assert done.returncode == 0, done.stderr
        assert f"mailgothai --data-dir {new} stack up" in done.stdout
        settings = load_settings(data_dir=new, environ={})
        assert settings.imap_port == int(ports["MAILGOTHAI_IMAP_PORT"])
        up = mailgothai("--data-dir", str(new), "stack", "up")
        try:
            assert up.returncode == 0, up.stderr
            yield settings
        finally:
            manager.down(settings)


def test_a_backup_taken_during_traffic_restores_a_working_service(source: Source, during_traffic: Path) -> None:
    src = source.settings
    bob, carol, alice = source.address("bob"), source.address("carol"), source.address("alice")
    carol_at_source = fetch_all(src, carol)
    with restored_stack(during_traffic) as new:
        assert new.data_dir != src.data_dir
        # the same accounts, with the same mailbox ids
        assert accounts(new) == accounts(src) and len(accounts(new)) == 4
        # a password logs in over IMAP, and bob's message has the same bytes
        with IMAPClient(new.host, port=new.imap_port, ssl=False, timeout=30) as imap:
            imap.login(alice, PASSWORD)
        assert fetch_all(new, bob) == fetch_all(src, bob)
        # mail that arrived while the backup ran: every restored message whole, none twice
        carol_restored = fetch_all(new, carol)
        assert len(carol_restored) >= 4
        assert len(set(carol_restored)) == len(carol_restored)
        assert set(carol_restored) <= set(carol_at_source)
        # the same DKIM key signs in the restored relay: the source's DNS record verifies it
        with Services.open(src, Actor("test-operator", Role.SUPERADMIN, origin="test")) as svc:
            published = dns_records(svc, source.domain)
        with Services.open(new, Actor("test-operator", Role.SUPERADMIN, origin="test")) as svc:
            assert dns_records(svc, source.domain) == published
        before = len(fetch_all(new, bob))
        with submission(new, alice) as client:
            client.sendmail(alice, [bob], message(alice, bob, "after the restore"))
        signed = wait_for_messages(new, bob, before + 1)[-1]
        assert b"after the restore" in signed and b"DKIM-Signature:" in signed
        assert dkimpy_verify(signed, published, 0)
        # the same audit records (mail makes none)
        assert audit_rows(new) == audit_rows(src)
        assert len(audit_rows(new)) >= 7
        # the import job's files (its upload and result)
        assert _tree(new.data_dir / "imports") == _tree(src.data_dir / "imports") != {}


def test_backup_files_are_owner_only_and_verify_passes(source: Source, during_traffic: Path) -> None:
    for path in [during_traffic, *during_traffic.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    done = mailgothai("backup", "verify", str(during_traffic))
    assert done.returncode == 0, done.stderr
    assert "intact" in done.stdout


def test_an_incremental_backup_links_unchanged_mail_and_holds_the_new(source: Source, during_traffic: Path) -> None:
    src, bob = source.settings, source.address("bob")
    first = source.root / "first"
    assert mailgothai("--data-dir", str(src.data_dir), "backup", "--out", str(first)).returncode == 0
    subject = f"new since the first backup {uuid.uuid4().hex}"
    with smtplib.LMTP(src.host, src.lmtp_port, timeout=30) as lmtp:
        lmtp.sendmail("someone@example.org", [bob], message("someone@example.org", bob, subject))
    fetch_all(src, bob)  # Dovecot moves it from new/ to cur/: the earlier messages keep their base names

    second = source.root / "second"
    done = mailgothai("--data-dir", str(src.data_dir), "backup", "--out", str(second), "--since", str(first))
    assert done.returncode == 0, done.stderr
    assert "linked from the earlier backup" in done.stdout

    def messages(backup: Path) -> dict[str, Path]:
        return {p.name.partition(":")[0]: p for p in (backup / "mail").rglob("*")
                if p.is_file() and p.parent.name in ("cur", "new")}

    old, new = messages(first), messages(second)
    assert old and set(old) < set(new)
    for base, path in old.items():  # every message of the first backup is the same inode in the second
        assert new[base].stat().st_ino == path.stat().st_ino, base
    added = [new[base] for base in set(new) - set(old) if subject.encode() in new[base].read_bytes()]
    assert len(added) == 1 and added[0].stat().st_nlink == 1
    assert mailgothai("backup", "verify", str(second)).returncode == 0
    assert mailgothai("backup", "verify", str(first)).returncode == 0  # the links changed nothing in it


def _copy(backup: Path, name: str) -> Path:
    copy = backup.parent / name
    shutil.copytree(backup, copy, symlinks=True)
    return copy


def test_verify_refuses_a_changed_a_missing_and_an_extra_file_and_a_changed_manifest(
        source: Source, during_traffic: Path) -> None:
    changed = _copy(during_traffic, "changed")
    message_file = next(p for p in (changed / "mail").rglob("*") if p.is_file() and p.parent.name in ("cur", "new"))
    data = bytearray(message_file.read_bytes())
    data[-3] ^= 0x20  # one letter's case: same size
    message_file.write_bytes(bytes(data))
    done = mailgothai("backup", "verify", str(changed))
    rel = message_file.relative_to(changed).as_posix()
    assert done.returncode == 1 and f"{rel}: its SHA-256 differs" in done.stderr

    missing = _copy(during_traffic, "missing")
    (missing / "directory" / "data.ldif").unlink()
    (missing / "files" / "extra.txt").write_text("not from the backup")
    done = mailgothai("backup", "verify", str(missing))
    assert done.returncode == 1
    assert "directory/data.ldif: missing" in done.stderr and "files/extra.txt: not in the manifest" in done.stderr

    manifest = _copy(during_traffic, "manifest")
    text = (manifest / "manifest.json").read_text()
    (manifest / "manifest.json").write_text(text.replace('"accounts": 4', '"accounts": 5'))
    done = mailgothai("backup", "verify", str(manifest))
    assert done.returncode == 1 and "manifest.json does not match manifest.sha256" in done.stderr


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_restore_refuses_an_incomplete_backup_and_an_existing_data_dir_changing_nothing(
        source: Source, during_traffic: Path) -> None:
    incomplete = _copy(during_traffic, "incomplete")
    (incomplete / "manifest.sha256").unlink()
    target = source.root / "never-made"
    done = mailgothai("restore", str(incomplete), "--data-dir", str(target), env=restore_env())
    assert done.returncode == 2
    assert "backup: " in done.stderr and "manifest.sha256 is missing" in done.stderr
    assert not target.exists()

    partial = _copy(during_traffic, "cut.partial")
    done = mailgothai("restore", str(partial), "--data-dir", str(target), env=restore_env())
    assert done.returncode == 2 and "an unfinished backup" in done.stderr
    assert not target.exists()

    # the running source's own data directory: refused, untouched
    before = _tree(source.settings.data_dir / "slapd" / "slapd.d")
    settings_before = source.settings.config_file.read_bytes()
    done = mailgothai("restore", str(during_traffic), "--data-dir", str(source.settings.data_dir))
    assert done.returncode == 2
    assert f"data_dir: {source.settings.data_dir} exists and is not empty" in done.stderr
    assert _tree(source.settings.data_dir / "slapd" / "slapd.d") == before
    assert source.settings.config_file.read_bytes() == settings_before

    # no --data-dir: refused, not restored into the default ./var
    elsewhere = source.root / "cwd"
    elsewhere.mkdir()
    done = mailgothai("restore", str(during_traffic), cwd=elsewhere, env=restore_env())
    assert done.returncode == 2 and "data_dir: name the new data directory" in done.stderr
    assert list(elsewhere.iterdir()) == []

    out = mailgothai("--data-dir", str(source.settings.data_dir), "backup", "--out", str(during_traffic))
    assert out.returncode == 2 and "already exists" in out.stderr


def test_a_restore_that_fails_half_way_leaves_nothing_behind(source: Source, during_traffic: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from mailgothai.stack import restore

    real = restore._copy_tree

    def disk_full_at_the_mail(src: Path, dst: Path, keep_mtime: bool = False,
                              owner: tuple[int, int] | None = None) -> None:
        if src.name == "mail":
            raise OSError(28, "No space left on device")
        real(src, dst, keep_mtime, owner)

    monkeypatch.setattr(restore, "_copy_tree", disk_full_at_the_mail)
    with stack_data_dir("half-restored") as new:
        with pytest.raises(OSError, match="No space left"):
            restore.restore_full(during_traffic, load_settings(data_dir=new, environ=restore_env()))
        assert not new.exists()  # the directory, settings and SQL written before the failure are gone


def test_a_backup_that_fails_half_way_leaves_neither_the_backup_nor_its_partial(
        source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    from mailgothai.stack import backup

    def disk_full(source_file: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "_sqlite_backup", disk_full)
    monkeypatch.setattr(backup.fmt, "PGDUMP_FILE", "sql/no-such-dir/mailgothai.pgdump")  # pg_dump fails too
    out = source.root / "failed"
    with pytest.raises(Exception, match="No space left|pg_dump"):
        backup.take_backup(source.settings, out)
    assert not out.exists() and not out.with_name("failed.partial").exists()
    (out.with_name("failed.partial")).mkdir()  # as a backup killed with SIGKILL leaves it
    done = mailgothai("--data-dir", str(source.settings.data_dir), "backup", "--out", str(out))
    assert done.returncode == 2 and "failed.partial is left from a backup that stopped" in done.stderr
    assert not out.exists()
