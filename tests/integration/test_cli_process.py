"""The `cli` fixture runs `main(argv)` in the test's process (tests/conftest.py run_main);
these smoke tests run the real separate process and check that it gives what the in-process
run gives: the same exit code, standard output and standard error, help text and argument
errors included, and standard input read the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import Cli, CliProcess

pytestmark = pytest.mark.integration

PASSWORD = "Good-password-1"


def same(process: subprocess.CompletedProcess[str], in_process: subprocess.CompletedProcess[str]) -> None:
    assert (process.returncode, process.stdout, process.stderr) == (
        in_process.returncode, in_process.stdout, in_process.stderr)


@pytest.mark.parametrize("args", [("--help",), ("account", "--help"), ("import", "--help"), ()],
                         ids=["help", "group help", "import help", "no arguments"])
def test_help_and_usage_are_the_same_in_process(cli: Cli, cli_process: CliProcess, args: tuple[str, ...]) -> None:
    done = cli_process(*args)
    assert done.returncode == (0 if args else 2), done.stderr
    assert "Traceback" not in done.stderr
    same(done, cli(*args))


def test_exit_codes_and_messages_are_the_same_in_process(cli: Cli, cli_process: CliProcess, domain: str) -> None:
    for args, stdin, code in ((("account", "add", "no-at-sign", "--password-stdin"), PASSWORD + "\n", 2),
                              (("account", "show", f"nobody@{domain}"), None, 1),
                              (("domain", "frobnicate"), None, 2),
                              (("admin", "add", "x", "--role", "king", "--generate-password"), None, 2)):
        done = cli_process(*args, stdin=stdin)
        assert done.returncode == code, (args, done.stderr)
        assert done.stderr.startswith(("mailgothai: error: ", "usage: ")), done.stderr
        same(done, cli(*args, stdin=stdin))


def test_standard_input_is_read_by_the_process(cli: Cli, cli_process: CliProcess, domain: str) -> None:
    email = f"p{uuid.uuid4().hex[:8]}@{domain}"
    added = cli_process("account", "add", email, "--given-name", "สมชาย", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    shown = cli_process("account", "show", email, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["given_name"] == "สมชาย"
    same(shown, cli("account", "show", email, "--json"))
    same(cli_process("account", "show", email), cli("account", "show", email))
    empty = cli_process("account", "passwd", email, "--password-stdin", stdin="")
    assert empty.returncode == 2 and "password: nothing on standard input" in empty.stderr
    same(empty, cli("account", "passwd", email, "--password-stdin", stdin=""))


def test_the_in_process_run_leaves_the_process_as_it_was(cli: Cli, domain: str) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    streams = sys.stdin, sys.stdout, sys.stderr
    environ = dict(os.environ)
    assert cli("domain", "show", domain).returncode == 0
    assert cli("domain", "frobnicate").returncode == 2
    now = os.umask(0o022)
    os.umask(now)
    assert now == umask
    assert (sys.stdin, sys.stdout, sys.stderr) == streams
    assert dict(os.environ) == environ
