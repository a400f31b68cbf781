"""The password policy from the CLI (issue 20) against the session's stack: `account add`
and `account passwd` refuse a weak password with exit 2 and "password: reason"; the
`password-policy` commands show and set the floor and a domain's own policy, and refuse a
domain policy below the floor naming the field."""

from __future__ import annotations

import json
import uuid

import pytest

from mailgothai.settings import Settings
from tests.conftest import Cli

pytestmark = [pytest.mark.integration, pytest.mark.sql]

GOOD = "Tr4vel-lamp-Oboe"


@pytest.fixture
def domain(stack: Settings) -> str:
    name = f"pp{uuid.uuid4().hex[:8]}.go.th"
    done = Cli(stack)("domain", "add", name)
    assert done.returncode == 0, done.stderr
    return name


def test_account_add_and_passwd_refuse_a_weak_password_with_its_reason(cli: Cli, domain: str) -> None:
    user = f"somchai@{domain}"
    done = cli("account", "add", user, "--given-name", "Somchai", "--password-stdin", stdin="password1\n")
    assert done.returncode == 2 and "password: needs an upper-case letter" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("account", "add", user, "--password-stdin", stdin="Password1\n")
    assert done.returncode == 2 and "password: too easy to guess (strength" in done.stderr
    assert cli("account", "show", user).returncode == 1  # not created
    assert cli("account", "add", user, "--given-name", "Somchai", "--password-stdin",
               stdin=GOOD + "\n").returncode == 0
    done = cli("account", "passwd", user, "--password-stdin", stdin="Somchai-2026-Q\n")
    assert done.returncode == 2
    assert "password: must not contain the account's address or name ('somchai')" in done.stderr


def test_password_policy_commands_show_and_set_the_floor_and_a_domain_s_own(cli: Cli, domain: str) -> None:
    floor = json.loads(cli("password-policy", "show", "--json").stdout)
    assert floor["min_length"] >= 8 and "upper" in floor["required_classes"]
    done = cli("password-policy", "set", "--domain", domain, "--min-length", "20", "--min-strength", "4", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(cli("password-policy", "show", "--domain", domain, "--json").stdout)
    assert (shown["own"], shown["min_length"], shown["min_strength"]) == (True, 20, 4)
    text = cli("password-policy", "show", "--domain", domain).stdout
    assert "its own policy" in text and "minimum length        20" in text

    user = f"malee@{domain}"
    done = cli("account", "add", user, "--password-stdin", stdin=GOOD + "\n")
    assert done.returncode == 2 and "password: shorter than 20 characters" in done.stderr
    assert cli("account", "add", user, "--password-stdin", stdin=GOOD + "-river-2\n").returncode == 0

    done = cli("password-policy", "set", "--domain", domain, "--min-length", str(floor["min_length"] - 1 or 7))
    assert done.returncode == 2 and "min_length:" in done.stderr
    done = cli("password-policy", "set", "--domain", domain, "--no-forbid-personal")
    assert done.returncode == 2 and "forbid_personal: the operator's minimum forbids" in done.stderr
    done = cli("password-policy", "set", "--domain", domain, "--require", "lower,emoji")
    assert done.returncode == 2 and "required_classes: must be one of" in done.stderr
    assert cli("password-policy", "reset", "--domain", domain).returncode == 0
    assert json.loads(cli("password-policy", "show", "--domain", domain, "--json").stdout)["own"] is False
