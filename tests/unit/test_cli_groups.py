"""A command loads only its own group's module (cli/main.py): what a start costs is what
that command needs. Help without a group still lists every group. A command that reads
only the directory loads no SQL store (services/backends.py opens it on first use)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mailgothai.cli.main import GROUPS, build_parser, group_word


@pytest.mark.parametrize(("argv", "word"), [
    (["account", "show", "a@b.go.th"], "account"),
    (["--data-dir", "/srv/x", "account", "show"], "account"),
    (["--config", "account", "domain", "list"], "domain"),  # a settings file named "account"
    (["--data-dir=/srv/x", "queue", "list"], "queue"),
    (["--help"], None),
    ([], None),
])
def test_the_group_word_is_found_past_the_global_options(argv: list[str], word: str | None) -> None:
    assert group_word(argv) == word


def test_help_without_a_group_lists_every_group() -> None:
    parser = build_parser([])
    subparsers = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0])))
    every = {word for words in GROUPS.values() for word in words}
    assert set(subparsers.choices) == every


def test_a_command_loads_only_its_own_group() -> None:
    probe = ("import sys; from mailgothai.cli.main import build_parser; "
             "build_parser(['account', 'show', 'a@b.go.th']); "
             "print(' '.join(m for m in sys.modules if m.startswith('mailgothai.cli.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "mailgothai.cli.accounts" in loaded
    assert loaded & {f"mailgothai.cli.{name}" for name in GROUPS if name != "accounts"} == set()


def test_a_directory_only_command_loads_no_sql_store(tmp_path: Path) -> None:
    probe = f"""
import sys
from mailgothai.cli.main import build_parser
from mailgothai.services.actor import cli_operator
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings

build_parser(["account", "show", "a@b.go.th"])
with Services.open(load_settings(data_dir={str(tmp_path)!r}, environ={{}}), cli_operator()) as services:
    services.accounts, services.domains, services.aliases
print(" ".join(m for m in sys.modules if m.split(".")[0] == "sqlalchemy" or m.startswith("mailgothai.store")))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [], done.stdout
