"""Every command group of the CLI: bad input exits 2 with "FIELD: reason" and no
traceback, and changes nothing; a missing object exits 1."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mailgothai.settings import Settings
from tests.conftest import Cli
from tests.integration.conftest import AuditProbe

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PASSWORD = "Good-password-1"
TAG = uuid.uuid4().hex[:8]
DOMAIN = f"err{TAG}.go.th"
USER = f"user@{DOMAIN}"
MISSING_DOMAIN = f"missing{TAG}.go.th"


@pytest.fixture(scope="module")
def setup(stack: Settings) -> Cli:
    cli = Cli(stack)
    for args, stdin in ((("domain", "add", DOMAIN, "--quota-pool", "5G", "--default-quota", "1G"), None),
                        (("account", "add", USER, "--password-stdin"), PASSWORD + "\n"),
                        (("alias", "add", f"team@{DOMAIN}", "--to", USER), None)):
        done = cli(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
    return cli


# (arguments, standard input, the field the message must name)
BAD_INPUT = [
    (("domain", "add", "bad..name.go.th"), None, "domain"),
    (("domain", "add", "ไม่ใช่-โดเมน"), None, "domain"),
    (("domain", "add", f"x{TAG}.go.th", "--max-accounts", "many"), None, "max_accounts"),
    (("domain", "add", f"x{TAG}.go.th", "--quota-pool", "12Q"), None, "quota_pool"),
    (("domain", "add", f"x{TAG}.go.th", "--default-quota=-5"), None, "default_quota"),
    (("domain", "add", f"x{TAG}.go.th", "--quota-pool", "1G", "--default-quota", "2G"), None, "default_quota"),
    (("domain", "add", f"x{TAG}.go.th", "--hourly-send-limit=-1"), None, "hourly_send_limit"),
    (("domain", "add", f"x{TAG}.go.th", "--description", "line\nbreak"), None, "description"),
    (("domain", "set", DOMAIN, "--max-message-size", "0"), None, "max_message_size"),
    (("domain", "show", "not a domain"), None, "domain"),
    (("alias", "list", "bad domain!"), None, "domain"),
    (("account", "add", "no-at-sign", "--password-stdin"), PASSWORD + "\n", "email"),
    (("account", "add", f"two@@{DOMAIN}", "--password-stdin"), PASSWORD + "\n", "email"),
    (("account", "add", f"new@{DOMAIN}", "--quota", "5X", "--password-stdin"), PASSWORD + "\n", "quota"),
    (("account", "add", f"new@{DOMAIN}", "--password-stdin"), "short\n", "password"),
    (("account", "add", f"new@{DOMAIN}", "--password-stdin"), "", "password"),
    (("account", "add", f"new@{DOMAIN}", "--status", "maybe", "--password-stdin"), PASSWORD + "\n", "status"),
    (("account", "add", f"new@{DOMAIN}", "--given-name", "tab\there", "--password-stdin"), PASSWORD + "\n",
     "given_name"),
    (("account", "add", f"new@{DOMAIN}", "--aliases", "not an address", "--password-stdin"), PASSWORD + "\n",
     "aliases"),
    (("account", "add", f"new@{DOMAIN}", "--forward", "x@", "--password-stdin"), PASSWORD + "\n", "forward"),
    (("account", "add", f"new@{DOMAIN}", "--password-hash-stdin"), "{MD5}abc\n", "password"),
    (("account", "list", "bad domain!"), None, "domain"),
    (("account", "search", " "), None, "search"),
    (("account", "set", USER, "--quota", "lots"), None, "quota"),
    (("account", "set", USER, "--quota", "6G"), None, "quota"),  # more than the whole 5G pool
    (("account", "passwd", USER, "--password-stdin"), "short\n", "password"),
    (("alias", "add", "bad-alias", "--to", USER), None, "address"),
    (("alias", "add", f"sales@{DOMAIN}", "--to", "not-an-address"), None, "to"),
    (("alias", "add", f"sales@{DOMAIN}", "--to", f"sales@{DOMAIN}"), None, "to"),
    (("alias", "add", f"sales@{DOMAIN}", "--to", ""), None, "to"),
    (("admin", "add", "Bad Login!", "--role", "domain_admin", "--domain", DOMAIN, "--generate-password"), None,
     "login"),
    (("admin", "add", f"adm{TAG}", "--role", "domain_admin", "--generate-password"), None, "domain"),
    (("admin", "add", f"adm{TAG}", "--role", "superadmin", "--domain", DOMAIN, "--generate-password"), None,
     "domain"),
    (("admin", "add", f"adm{TAG}", "--role", "domain_admin", "--domain", "bad..d", "--generate-password"), None,
     "domain"),
    (("admin", "add", f"adm{TAG}", "--role", "domain_admin", "--domain", DOMAIN, "--password-stdin"), "short\n",
     "password"),
]


@pytest.mark.parametrize("args,stdin,field", BAD_INPUT, ids=[" ".join(c[0][:2]) + f" {c[2]}" for c in BAD_INPUT])
def test_bad_input_exits_2_naming_the_field(setup: Cli, audit: AuditProbe, args: tuple[str, ...],
                                            stdin: str | None, field: str) -> None:
    before = audit.count()
    done = setup(*args, stdin=stdin)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"mailgothai: error: {field}: "), message
    assert len(message) > len(f"mailgothai: error: {field}: ") + 5, "a reason follows the field"
    assert audit.count() == before


@pytest.mark.parametrize("args,option", [
    (("admin", "add", "x", "--role", "king", "--generate-password"), "--role"),
    (("stack", "up", "--ldap-port", "not-a-port"), "--ldap-port"),
    (("account", "add", "x@y.go.th"), "--password-stdin"),
    (("domain", "frobnicate"), "COMMAND"),
])
def test_argument_errors_exit_2_naming_the_option(setup: Cli, args: tuple[str, ...], option: str) -> None:
    done = setup(*args)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    assert option in done.stderr.splitlines()[-1], done.stderr


def _run(settings: Settings, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    return subprocess.run([sys.executable, "-m", "mailgothai.cli.main", *args], capture_output=True, text=True,
                          env={**base, **env}, timeout=120, check=False)


def test_bad_settings_exit_2_naming_the_setting(setup: Cli, tmp_path: Path) -> None:
    data = str(setup.settings.data_dir)
    done = _run(setup.settings, "--data-dir", data, "stack", "status", env={"MAILGOTHAI_IMAP_PORT": "imap"})
    assert done.returncode == 2 and done.stderr.strip().endswith(done.stderr.strip().splitlines()[-1])
    assert "error: imap_port: " in done.stderr and "Traceback" not in done.stderr
    done = _run(setup.settings, "--data-dir", data, "stack", "status",
                env={"MAILGOTHAI_RELAY_QUOTA_GRANT_BYTES": "-1"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error: relay_quota_grant_bytes: must be 0 or more" in done.stderr
    done = _run(setup.settings, "--config", str(tmp_path / "nope.toml"), "domain", "list", env={})
    assert done.returncode == 2 and "error: config: " in done.stderr and "Traceback" not in done.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("ldap_port = [unclosed\n")
    done = _run(setup.settings, "--config", str(broken), "domain", "list", env={})
    assert done.returncode == 2 and "error: config: " in done.stderr and "Traceback" not in done.stderr


MISSING = [
    (("domain", "show", MISSING_DOMAIN), None),
    (("domain", "set", MISSING_DOMAIN, "--max-accounts", "5"), None),
    (("domain", "suspend", MISSING_DOMAIN), None),
    (("domain", "delete", MISSING_DOMAIN), None),
    (("account", "show", f"nobody@{DOMAIN}"), None),
    (("account", "set", f"nobody@{DOMAIN}", "--quota", "1G"), None),
    (("account", "passwd", f"nobody@{DOMAIN}", "--password-stdin"), PASSWORD + "\n"),
    (("account", "suspend", f"nobody@{DOMAIN}"), None),
    (("account", "activate", f"nobody@{DOMAIN}"), None),
    (("account", "delete", f"nobody@{DOMAIN}"), None),
    (("account", "add", f"someone@{MISSING_DOMAIN}", "--password-stdin"), PASSWORD + "\n"),
    (("account", "list", MISSING_DOMAIN), None),
    (("alias", "add", f"x@{MISSING_DOMAIN}", "--to", USER), None),
    (("alias", "list", MISSING_DOMAIN), None),
    (("alias", "delete", f"nobody@{DOMAIN}"), None),
    (("admin", "delete", f"nobody{TAG}"), None),
    (("admin", "set", f"nobody{TAG}", "--display-name", "x"), None),
]


@pytest.mark.parametrize("args,stdin", MISSING, ids=[" ".join(c[0][:2]) for c in MISSING])
def test_missing_object_exits_1(setup: Cli, audit: AuditProbe, args: tuple[str, ...],
                                stdin: str | None) -> None:
    before = audit.count()
    done = setup(*args, stdin=stdin)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "not found" in done.stderr, done.stderr
    assert audit.count() == before


def test_taken_names_exit_1(setup: Cli, audit) -> None:
    before = audit.count()
    for args, stdin in ((("domain", "add", DOMAIN), None),
                        (("account", "add", USER, "--password-stdin"), PASSWORD + "\n"),
                        (("account", "add", f"team@{DOMAIN}", "--password-stdin"), PASSWORD + "\n"),
                        (("alias", "add", USER, "--to", f"team@{DOMAIN}"), None)):
        done = setup(*args, stdin=stdin)
        assert done.returncode == 1 and "already exists" in done.stderr and "Traceback" not in done.stderr, done
    assert audit.count() == before
