"""`--data-dir` and `--config` are taken before the command and after it (the README says
every command takes them); given in both places, the later one wins, as options usually do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mailgothai.settings import Settings
from tests.conftest import Cli

pytestmark = pytest.mark.integration


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real `mailgothai` command with exactly these arguments (no --data-dir added)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    done = subprocess.run([sys.executable, "-m", "mailgothai.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr
    assert "unrecognized arguments" not in done.stderr, done.stderr
    return done


def status_data_dir(done: subprocess.CompletedProcess[str]) -> Path:
    assert done.returncode == 3, (done.stdout, done.stderr)  # nothing runs in these directories
    return Path(json.loads(done.stdout)["data_dir"]).resolve()


def test_data_dir_after_the_command(tmp_path: Path) -> None:
    here = tmp_path / "after"
    assert status_data_dir(run("stack", "status", "--json", "--data-dir", str(here))) == here.resolve()
    assert status_data_dir(run("stack", "status", f"--data-dir={here}", "--json")) == here.resolve()


def test_data_dir_before_the_command_still_works(tmp_path: Path) -> None:
    here = tmp_path / "before"
    assert status_data_dir(run("--data-dir", str(here), "stack", "status", "--json")) == here.resolve()


def test_given_twice_the_later_one_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    done = run("--data-dir", str(first), "stack", "status", "--json", "--data-dir", str(second))
    assert status_data_dir(done) == second.resolve()


def test_config_after_the_command(tmp_path: Path) -> None:
    data_dir = tmp_path / "from-config"
    config = tmp_path / "settings.toml"
    config.write_text(f'data_dir = "{data_dir}"\n', encoding="utf-8")
    assert status_data_dir(run("stack", "status", "--json", "--config", str(config))) == data_dir.resolve()


def test_a_real_command_with_the_data_dir_after_it(stack: Settings, cli: Cli, tmp_path: Path) -> None:
    domain = f"globalopts-{uuid.uuid4().hex[:8]}.go.th"
    assert cli("domain", "add", domain).returncode == 0
    done = run("domain", "list", "--search", domain, "--json", "--data-dir", str(stack.data_dir))
    assert done.returncode == 0, done.stderr
    assert domain in {d["name"] for d in json.loads(done.stdout)}
    # given twice: the later one (the running stack's) is used, not the empty directory
    empty = tmp_path / "empty"
    done = run("--data-dir", str(empty), "domain", "show", domain, "--data-dir", str(stack.data_dir))
    assert done.returncode == 0, done.stderr
    assert domain in done.stdout
