"""Messages of a Maildir copy put back into a live Maildir once (mailstore/merge.py)."""

from __future__ import annotations

import os
from pathlib import Path

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
