"""restore --domain reads which Sieve script was active from the backed-up home's symlink
(stack/restore_domain.py `_link_target`): only a plain relative name in the scripts'
folder counts; a link anywhere else is not followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailgothai.stack.restore_domain import _link_target


@pytest.mark.parametrize(("target", "expected"), [
    ("sieve/mailgothai.sieve", "mailgothai"),
    ("sieve/ของฉัน.sieve", "ของฉัน"),
    ("/etc/passwd", None),
    ("sieve/../../../etc/x.sieve", None),
    ("other/mine.sieve", None),
    ("sieve/notes.txt", None),
])
def test_only_a_script_of_the_folder_counts(tmp_path: Path, target: str, expected: str | None) -> None:
    home = tmp_path / "home"
    (home / "sieve").mkdir(parents=True)
    os.symlink(target, home / ".dovecot.sieve")
    assert _link_target(home / ".dovecot.sieve", home / "sieve") == expected


def test_no_link_no_active_script(tmp_path: Path) -> None:
    (tmp_path / ".dovecot.sieve").write_text("require [];")
    assert _link_target(tmp_path / ".dovecot.sieve", tmp_path / "sieve") is None
    assert _link_target(tmp_path / "missing", tmp_path / "sieve") is None
