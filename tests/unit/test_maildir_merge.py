"""Messages of a Maildir copy put back into a live Maildir once (mailstore/merge.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailgothai.errors import MailStoreError
from mailgothai.mailstore import merge


def _maildir(root: Path, files: dict[str, bytes]) -> Path:
    for folder in ("", ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_only_the_messages_the_mailbox_lacks_come_back_and_only_once(tmp_path: Path) -> None:
    mail_root = tmp_path / "mailboxes"
    mail_root.mkdir()
    copy = _maildir(tmp_path / "backup", {
        "cur/100.M1.host,S=3:2,S": b"one",
        "cur/200.M2.host,S=3:2,": b"two",
        "new/300.M3.host,S=5": b"three",
        ".Sent/cur/400.M4.host,S=4:2,S": b"four",
    })
    os.utime(copy / "cur/200.M2.host,S=3:2,", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    live = _maildir(mail_root / "ab" / "id" / "Maildir", {
        "cur/100.M1.host,S=3:2,RS": b"one",  # read and answered since: the same message
        ".Archive/cur/400.M4.host,S=4:2,S": b"four",  # moved to another folder since
    })
    wanted = merge.missing(copy, live)
    assert sorted(m.name for m in wanted) == ["200.M2.host,S=3:2,", "300.M3.host,S=5"]

    writer = merge.MaildirWriter(mail_root)
    assert writer.put_back(copy, live, wanted) == 2
    assert (live / "cur/200.M2.host,S=3:2,").read_bytes() == b"two"
    assert (live / "cur/200.M2.host,S=3:2,").stat().st_mtime_ns == 1_700_000_000_000_000_000
    assert (live / "new/300.M3.host,S=5").read_bytes() == b"three"
    assert not list((live / "tmp").iterdir())
    assert merge.missing(copy, live) == []


def test_a_mailbox_that_is_gone_is_made_again_with_its_folders(tmp_path: Path) -> None:
    mail_root = tmp_path / "mailboxes"
    mail_root.mkdir()
    copy = _maildir(tmp_path / "backup", {".Sent/cur/1.M1.h:2,S": b"sent", "subscriptions": b"Sent\n"})
    live = mail_root / "cd" / "id2" / "Maildir"
    writer = merge.MaildirWriter(mail_root)
    assert writer.put_back(copy, live, merge.missing(copy, live)) == 1
    assert (live / ".Sent/cur/1.M1.h:2,S").read_bytes() == b"sent"
    assert (live / ".Sent/maildirfolder").exists() and (live / "subscriptions").read_bytes() == b"Sent\n"
    assert oct((live / ".Sent").stat().st_mode & 0o777) == "0o700"


def _copy_with_one_message(tmp_path: Path) -> Path:
    return _maildir(tmp_path / "backup", {"cur/500.M5.host,S=4:2,S": b"five", "subscriptions": b"Sent\n"})


def _all_files(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_symlinked_tmp_and_cur_in_the_live_mailbox_are_refused_and_nothing_is_written_outside(
        tmp_path: Path) -> None:
    mail_root = tmp_path / "mailboxes"
    live = mail_root / "ab" / "id" / "Maildir"
    live.mkdir(parents=True)
    outside = tmp_path / "root-owned"  # stands for /etc/profile.d: the mail user cannot write there, root can
    outside.mkdir()
    for sub in ("tmp", "cur"):
        os.symlink(outside, live / sub)  # planted by the mail user, who owns the mail store
    (live / "new").mkdir()
    copy = _copy_with_one_message(tmp_path)
    with pytest.raises(MailStoreError, match="symbolic link") as caught:
        merge.MaildirWriter(mail_root).put_back(copy, live, merge.missing(copy, live))
    assert str(live / "cur") in str(caught.value)
    assert _all_files(outside) == []


def test_a_symlinked_directory_above_the_maildir_is_refused(tmp_path: Path) -> None:
    mail_root = tmp_path / "mailboxes"
    (mail_root / "ab").mkdir(parents=True)
    outside = tmp_path / "root-owned"
    outside.mkdir()
    os.symlink(outside, mail_root / "ab" / "id")  # the home itself
    copy = _copy_with_one_message(tmp_path)
    live = mail_root / "ab" / "id" / "Maildir"
    with pytest.raises(MailStoreError, match="symbolic link"):
        merge.MaildirWriter(mail_root).put_back(copy, live, merge.missing(copy, live))
    assert _all_files(outside) == []


def test_a_symlinked_folder_is_refused_and_links_where_files_go_are_never_written_through(tmp_path: Path) -> None:
    mail_root = tmp_path / "mailboxes"
    outside = tmp_path / "root-owned"
    (outside / "cur").mkdir(parents=True)
    (outside / "new").mkdir()
    (outside / "tmp").mkdir()
    secret = tmp_path / "shadow"
    secret.write_bytes(b"root:x:1:\n")
    live = _maildir(mail_root / "ab" / "id" / "Maildir", {})
    (live / ".Sent").rename(live / ".Old")
    os.symlink(outside, live / ".Sent")  # a folder that is a link
    os.symlink(secret, live / "tmp" / f"500.M5.host,S=4.restore.{os.getpid()}")  # the staging name
    copy = _maildir(tmp_path / "backup", {"cur/500.M5.host,S=4:2,S": b"five", ".Sent/cur/6.M6.h:2,S": b"six"})
    with pytest.raises(MailStoreError, match=r"\.Sent"):
        merge.MaildirWriter(mail_root).put_back(copy, live, merge.missing(copy, live))
    assert _all_files(outside) == ["cur", "new", "tmp"]
    assert secret.read_bytes() == b"root:x:1:\n"
    assert (live / "cur/500.M5.host,S=4:2,S").read_bytes() == b"five"  # the INBOX's went in, as a file
    assert not (live / "cur/500.M5.host,S=4:2,S").is_symlink()
