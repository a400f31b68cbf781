"""The mail part of a backup (stack/backup.py) on real Maildir folders, when Dovecot renames
or expunges a message between the listing and its copy: the message is found again by
its base name, or recorded as gone; a message in both new/ and cur/ is taken once. And how
pg_dump and pg_restore get the database's password (not on their command line)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mailgothai.stack import backup_manifest as fmt
from mailgothai.stack.backup import _MailCopier, _Writer
from mailgothai.stack.backup_manifest import Manifest


def maildir(root: Path) -> Path:
    folder = root / "ab" / "abcd-1234" / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    (folder / "dovecot-uidlist").write_text("3 V1 N3\n")
    return folder


def copier(tmp_path: Path) -> tuple[_MailCopier, Manifest, Path]:
    manifest = Manifest(created="now", source_data_dir_name="data", sql="sqlite")
    out = tmp_path / "backup"
    out.mkdir()
    return _MailCopier(_Writer(out, manifest), None, None), manifest, out


def backed_up(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "mail").rglob("*") if p.is_file()}


def test_a_message_renamed_after_the_listing_is_copied_under_its_new_name(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = maildir(tmp_path / "mailboxes")
    (folder / "new" / "111.M1P1.host,S=5").write_bytes(b"first")
    (folder / "new" / "222.M2P2.host,S=6").write_bytes(b"second")
    c, manifest, out = copier(tmp_path)
    listing = _MailCopier._listing
    calls = []

    def stale(self: _MailCopier, src: Path) -> dict[str, tuple[str, str]]:
        found = listing(self, src)
        if not calls:  # Dovecot moves the first one to cur/ with a flag, and expunges the second
            os.rename(folder / "new" / "111.M1P1.host,S=5", folder / "cur" / "111.M1P1.host,S=5:2,S")
            (folder / "new" / "222.M2P2.host,S=6").unlink()
        calls.append(src)
        return found

    monkeypatch.setattr(_MailCopier, "_listing", stale)
    c.run(tmp_path / "mailboxes")
    files = backed_up(out)
    assert files["mail/ab/abcd-1234/Maildir/cur/111.M1P1.host,S=5:2,S"] == b"first"
    assert "mail/ab/abcd-1234/Maildir/new/111.M1P1.host,S=5" not in files
    assert manifest.gone == ["mail/ab/abcd-1234/Maildir/new/222.M2P2.host,S=6"]
    assert files["mail/ab/abcd-1234/Maildir/dovecot-uidlist"] == b"3 V1 N3\n"
    assert (out / "mail/ab/abcd-1234/Maildir/tmp").is_dir() and (out / "mail/ab/abcd-1234/Maildir/new").is_dir()
    assert set(manifest.files) == set(files)
    record = manifest.files["mail/ab/abcd-1234/Maildir/cur/111.M1P1.host,S=5:2,S"]
    assert record.mtime_ns == (folder / "cur" / "111.M1P1.host,S=5:2,S").stat().st_mtime_ns
    assert record.sha256 == fmt.sha256_file(out / "mail/ab/abcd-1234/Maildir/cur/111.M1P1.host,S=5:2,S")


def test_a_message_seen_in_new_and_in_cur_is_taken_once_and_tmp_and_locks_never(tmp_path: Path) -> None:
    folder = maildir(tmp_path / "mailboxes")
    # the link Dovecot's move leaves for a moment: the same message under both names
    (folder / "new" / "333.M3P3.host").write_bytes(b"third")
    os.link(folder / "new" / "333.M3P3.host", folder / "cur" / "333.M3P3.host:2,")
    (folder / "tmp" / "444.M4P4.host").write_bytes(b"being delivered")
    (folder / "dovecot-uidlist.lock").write_bytes(b"")  # Dovecot delivering: restored, it would stall SELECT
    sent = folder / ".Sent"
    for sub in ("cur", "new", "tmp"):
        (sent / sub).mkdir(parents=True)
    (sent / "cur" / "555.M5P5.host:2,S").write_bytes(b"sent")
    c, manifest, out = copier(tmp_path)
    c.run(tmp_path / "mailboxes")
    assert sorted(backed_up(out)) == [
        "mail/ab/abcd-1234/Maildir/.Sent/cur/555.M5P5.host:2,S",
        "mail/ab/abcd-1234/Maildir/cur/333.M3P3.host:2,",
        "mail/ab/abcd-1234/Maildir/dovecot-uidlist",
    ]
    assert manifest.gone == []


def test_pg_tools_get_the_password_apart_from_their_command_line() -> None:
    from mailgothai.stack.backup import pg_conninfo

    assert pg_conninfo("postgresql+psycopg://mg:s3cr%40t@db.example:5432/mail?sslmode=require") == (
        "postgresql://mg@db.example:5432/mail?sslmode=require", "s3cr@t")
    assert pg_conninfo("postgresql+psycopg://postgres@127.0.0.1:5433/x") == ("postgresql://postgres@127.0.0.1:5433/x",
                                                                            None)


def test_a_symlinked_message_is_recorded_as_a_link_and_its_target_never_copied(tmp_path: Path) -> None:
    secret = tmp_path / "mailgothai.toml"  # DATA/mailgothai.toml: the passwords
    secret.write_text("ldap_manager_password = 'TOPSECRET'\n")
    folder = maildir(tmp_path / "mailboxes")
    (folder / "cur" / "1700000000.M1P1.host,S=5:2,S").write_bytes(b"hello")
    link = "1700000001.M2P2.host:2,S"
    os.symlink(secret, folder / "cur" / link)  # planted by the mail user
    c, manifest, out = copier(tmp_path)
    c.run(tmp_path / "mailboxes")
    rel = f"mail/ab/abcd-1234/Maildir/cur/{link}"
    copied = [p.read_bytes() for p in (out / "mail").rglob("*") if p.is_file() and not p.is_symlink()]
    assert b"TOPSECRET" not in b"".join(copied)
    assert rel not in manifest.files
    assert manifest.symlinks[rel] == str(secret) and os.readlink(out / rel) == str(secret)
    assert backed_up(out)["mail/ab/abcd-1234/Maildir/cur/1700000000.M1P1.host,S=5:2,S"] == b"hello"
    assert manifest.counts["mail_skipped"] == 1


def test_a_fifo_where_a_message_belongs_is_skipped_without_hanging(tmp_path: Path) -> None:
    folder = maildir(tmp_path / "mailboxes")
    os.mkfifo(folder / "new" / "1700000002.M3P3.host")  # open() for reading would wait for a writer
    (folder / "new" / "1700000003.M4P4.host").write_bytes(b"mail")
    c, manifest, out = copier(tmp_path)

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the backup waits on the FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        c.run(tmp_path / "mailboxes")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert backed_up(out) == {"mail/ab/abcd-1234/Maildir/new/1700000003.M4P4.host": b"mail",
                              "mail/ab/abcd-1234/Maildir/dovecot-uidlist": b"3 V1 N3\n"}
    assert not (out / "mail/ab/abcd-1234/Maildir/new/1700000002.M3P3.host").exists()
    assert set(manifest.files) == {"mail/ab/abcd-1234/Maildir/new/1700000003.M4P4.host",
                                   "mail/ab/abcd-1234/Maildir/dovecot-uidlist"}
    assert manifest.counts["mail_skipped"] == 1


def test_a_maildir_subfolder_swapped_for_a_link_during_the_backup_is_not_followed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "root-only"  # stands for a root-owned directory: /root/.ssh
    secrets.mkdir()
    (secrets / "1700000009.M9P9.host:2,S").write_bytes(b"PRIVATE KEY")
    folder = maildir(tmp_path / "mailboxes")
    (folder / "cur" / "1700000000.M1P1.host:2,S").write_bytes(b"hello")
    c, manifest, out = copier(tmp_path)
    listing = _MailCopier._listing

    def swapped(self: _MailCopier, src: object) -> dict[str, tuple[str, str]]:
        if not (folder / "cur.real").exists():  # the mail user, after the Maildir was seen as one
            os.rename(folder / "cur", folder / "cur.real")
            os.symlink(secrets, folder / "cur")
        return listing(self, src)

    monkeypatch.setattr(_MailCopier, "_listing", swapped)
    c.run(tmp_path / "mailboxes")
    copied = [p.read_bytes() for p in (out / "mail").rglob("*") if p.is_file() and not p.is_symlink()]
    assert b"PRIVATE KEY" not in b"".join(copied)
    assert "mail/ab/abcd-1234/Maildir/cur/1700000009.M9P9.host:2,S" not in manifest.files
    assert backed_up(out)["mail/ab/abcd-1234/Maildir/cur/1700000000.M1P1.host:2,S"] == b"hello"  # the real cur/
