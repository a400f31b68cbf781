"""The purge's removals (mailstore/mailboxes.py) never leave the mail root: ROOT/.purging
is owned by Dovecot's mail user, the purge runs as root, so a symbolic link there (or in
it) is never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailgothai.errors import MailStoreError
from mailgothai.mailstore.mailboxes import REMOVING, Mailboxes

MAILBOX_ID = "0a1b2c3d-0000-1000-8000-000000000001"


def _outside(tmp_path: Path) -> Path:
    """Stands for /etc: a directory with a subdirectory and files, outside the mail root."""
    victim = tmp_path / "etc"
    (victim / "ssh").mkdir(parents=True)
    (victim / "ssh" / "sshd_config").write_text("x")
    (victim / "passwd").write_text("x")
    return victim


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_a_purging_directory_that_is_a_symlink_is_refused_and_nothing_outside_goes(tmp_path: Path) -> None:
    root = tmp_path / "mailboxes"
    root.mkdir()
    victim = _outside(tmp_path)
    before = _tree(victim)
    os.symlink(victim, root / REMOVING)  # planted by the mail user
    with pytest.raises(MailStoreError, match="symbolic link"):
        Mailboxes(root).finish_removals()
    assert _tree(victim) == before


def test_a_removal_into_a_symlinked_purging_directory_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "mailboxes"
    mailboxes = Mailboxes(root)
    (mailboxes.maildir(MAILBOX_ID) / "cur").mkdir(parents=True)
    victim = _outside(tmp_path)
    before = _tree(victim)
    os.symlink(victim, root / REMOVING)
    with pytest.raises(MailStoreError, match="symbolic link"):
        mailboxes.remove(MAILBOX_ID)
    assert _tree(victim) == before
    assert mailboxes.exists(MAILBOX_ID)  # not moved out of the mail root either


def test_symlinks_inside_the_purging_directory_are_unlinked_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "mailboxes"
    victim = _outside(tmp_path)
    before = _tree(victim)
    aside = root / REMOVING
    (aside / "half-removed" / "Maildir" / "cur").mkdir(parents=True)
    (aside / "half-removed" / "Maildir" / "cur" / "1.M1.h:2,S").write_text("mail")
    os.symlink(victim, aside / "half-removed" / "Maildir" / "link")
    os.symlink(victim, aside / "linked-home")
    assert Mailboxes(root).finish_removals() == 2
    assert list(aside.iterdir()) == []
    assert _tree(victim) == before


def test_a_mailbox_is_removed_and_a_killed_removal_finished(tmp_path: Path) -> None:
    root = tmp_path / "mailboxes"
    mailboxes = Mailboxes(root)
    (mailboxes.maildir(MAILBOX_ID) / "cur").mkdir(parents=True)
    assert mailboxes.remove(MAILBOX_ID) is True
    assert not mailboxes.exists(MAILBOX_ID) and list((root / REMOVING).iterdir()) == []
    assert mailboxes.remove(MAILBOX_ID) is False
    (root / REMOVING / "killed" / "Maildir").mkdir(parents=True)
    assert mailboxes.finish_removals() == 1
