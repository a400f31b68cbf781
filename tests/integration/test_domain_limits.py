"""A domain's limits hold on the CLI: past max accounts, or beyond the quota pool, the
command is refused naming the field, and nothing changes (directory, counters, audit)."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.conftest import Cli
from tests.integration.conftest import AuditProbe

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PASSWORD = "Limit-test-pw1"


def unique_domain(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}.go.th"


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr


def _refused(result: subprocess.CompletedProcess[str], field: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert f"error: {field}: " in result.stderr, result.stderr
    return result.stderr


def _state(cli: Cli, domain: str, audit: AuditProbe) -> tuple[object, ...]:
    listing = cli("account", "list", domain, "--json")
    _ok(listing)
    shown = cli("domain", "show", domain, "--json")
    _ok(shown)
    info = json.loads(shown.stdout)
    accounts = sorted((a["email"], a["quota"]) for a in json.loads(listing.stdout))
    return accounts, info["account_count"], info["quota_allocated"], audit.count(), audit.count(domain=domain)


def test_past_max_accounts_is_refused_and_changes_nothing(cli: Cli, audit: AuditProbe) -> None:
    domain = unique_domain("max")
    _ok(cli("domain", "add", domain, "--max-accounts", "2", "--default-quota", "100M"))
    for name in ("one", "two"):
        _ok(cli("account", "add", f"{name}@{domain}", "--password-stdin", stdin=PASSWORD + "\n"))
    before = _state(cli, domain, audit)
    assert before[1] == 2

    message = _refused(cli("account", "add", f"three@{domain}", "--password-stdin", stdin=PASSWORD + "\n"),
                       "max_accounts")
    assert "at most 2 accounts" in message
    assert _state(cli, domain, audit) == before
    assert cli("account", "show", f"three@{domain}").returncode == 1

    # Room again after a delete: the counter followed the delete.
    _ok(cli("account", "delete", f"two@{domain}"))
    _ok(cli("account", "add", f"three@{domain}", "--password-stdin", stdin=PASSWORD + "\n"))


def test_quota_beyond_the_pool_is_refused_and_changes_nothing(cli: Cli, audit: AuditProbe) -> None:
    domain = unique_domain("pool")
    _ok(cli("domain", "add", domain, "--quota-pool", "3G", "--default-quota", "1G"))
    _ok(cli("account", "add", f"first@{domain}", "--quota", "2G", "--password-stdin", stdin=PASSWORD + "\n"))
    before = _state(cli, domain, audit)
    assert before[2] == 2 * 1024**3

    message = _refused(cli("account", "add", f"big@{domain}", "--quota", "1025M", "--password-stdin",
                           stdin=PASSWORD + "\n"), "quota")
    assert "pool" in message
    assert _state(cli, domain, audit) == before

    # Raising an existing account's quota past the pool is refused the same way.
    _refused(cli("account", "set", f"first@{domain}", "--quota", "4G"), "quota")
    assert _state(cli, domain, audit) == before

    # Exactly filling the pool is allowed.
    _ok(cli("account", "add", f"fits@{domain}", "--quota", "1G", "--password-stdin", stdin=PASSWORD + "\n"))
    assert _state(cli, domain, audit)[2] == 3 * 1024**3


def test_refused_limit_change_below_usage_changes_nothing(cli: Cli, audit: AuditProbe) -> None:
    domain = unique_domain("lower")
    _ok(cli("domain", "add", domain, "--max-accounts", "5", "--quota-pool", "10G", "--default-quota", "2G"))
    for name in ("a", "b"):
        _ok(cli("account", "add", f"{name}@{domain}", "--password-stdin", stdin=PASSWORD + "\n"))
    before = _state(cli, domain, audit)
    _refused(cli("domain", "set", domain, "--max-accounts", "1"), "max_accounts")
    _refused(cli("domain", "set", domain, "--quota-pool", "3G"), "quota_pool")
    assert _state(cli, domain, audit) == before
    shown = json.loads(cli("domain", "show", domain, "--json").stdout)
    assert shown["limits"]["max_accounts"] == 5 and shown["limits"]["quota_pool"] == 10 * 1024**3


def test_setting_a_domain_to_what_it_holds_changes_and_records_nothing(cli: Cli, audit: AuditProbe) -> None:
    domain = unique_domain("same")
    _ok(cli("domain", "add", domain, "--max-accounts", "10", "--quota-pool", "5G", "--description", "กรมเดิม"))
    before = audit.count(domain=domain)
    _ok(cli("domain", "set", domain, "--max-accounts", "10", "--quota-pool", "5G", "--description", "กรมเดิม"))
    assert audit.count(domain=domain) == before
    _ok(cli("domain", "set", domain, "--max-accounts", "11"))
    assert audit.count(domain=domain) == before + 1
    assert json.loads(cli("domain", "show", domain, "--json").stdout)["limits"]["max_accounts"] == 11


def test_a_count_past_its_maximum_is_refused_and_changes_nothing(cli: Cli, audit: AuditProbe) -> None:
    """max_accounts and hourly_send_limit have a maximum (10,000,000 each): 10**30
    was kept, and then every authenticated RCPT of the domain overflowed SQLite's integer."""
    domain = unique_domain("huge")
    huge = str(10**30)
    message = _refused(cli("domain", "add", domain, "--max-accounts", huge), "max_accounts")
    assert "larger than the maximum 10000000" in message
    _refused(cli("domain", "add", domain, "--hourly-send-limit", huge), "hourly_send_limit")
    assert cli("domain", "show", domain).returncode == 1  # not made
    _ok(cli("domain", "add", domain, "--max-accounts", "10", "--hourly-send-limit", "100"))
    before = _state(cli, domain, audit)
    for option, field, value in (("--max-accounts", "max_accounts", huge),
                                 ("--max-accounts", "max_accounts", "10000001"),
                                 ("--max-accounts", "max_accounts", "9" * 5000),
                                 ("--hourly-send-limit", "hourly_send_limit", huge),
                                 ("--hourly-send-limit", "hourly_send_limit", "10000001")):
        message = _refused(cli("domain", "set", domain, option, value), field)
        assert "maximum" in message and len(message) < 500, message
    assert _state(cli, domain, audit) == before
    _ok(cli("domain", "set", domain, "--max-accounts", "10000000", "--hourly-send-limit", "10000000"))
    limits = json.loads(cli("domain", "show", domain, "--json").stdout)["limits"]
    assert (limits["max_accounts"], limits["hourly_send_limit"]) == (10_000_000, 10_000_000)
