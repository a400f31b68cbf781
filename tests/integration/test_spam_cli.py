"""`mailgothai spam ...` (issue 18) against the session's stack and its SQL store: a
domain's policy shown, set field by field and reset; the operator's defaults and bounds;
allow and block lists of a domain and of an account; bad input refused naming the field
(exit 2) and nothing stored; what the relay then reads (store policy_of / rules_for)."""

from __future__ import annotations

import json

import pytest

from mailgothai.core.spam import ListKind, SenderRule, SpamPolicy
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.conftest import Cli

pytestmark = pytest.mark.sql


def relay_view(services: Services, domain: str, address: str) -> tuple[SpamPolicy, set[SenderRule]]:
    spam = services.backends.spam
    assert spam is not None
    return spam.policy_of(domain), set(spam.rules_for(domain, address))


def test_a_domains_policy_set_field_by_field_and_reset(cli: Cli, services: Services, domain: str) -> None:
    shown = cli("spam", "policy", "show", domain)
    assert shown.returncode == 0 and "the operator's default policy" in shown.stdout
    done = cli("spam", "policy", "set", domain, "--junk-score", "4.5", "--reject-score", "off", "--no-greylisting",
               "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["junk_score"], data["reject_score"], data["greylisting"], data["own"]) == (4.5, None, False, True)
    assert data["quarantine_score"] == 10.0 and data["changed_by"].startswith("cli:")
    assert relay_view(services, domain, f"x@{domain}")[0] == SpamPolicy(junk=4.5, reject=None, greylisting=False)
    kept = cli("spam", "policy", "set", domain, "--quarantine-days", "7")  # the other fields stay
    assert kept.returncode == 0 and "reject score      off" in kept.stdout and "junk score        4.5" in kept.stdout
    assert cli("spam", "policy", "reset", domain).returncode == 0
    assert relay_view(services, domain, f"x@{domain}")[0] == SpamPolicy()


@pytest.mark.parametrize(("args", "field"), [
    (("--junk-score", "many"), "junk_score"),
    (("--junk-score", "20", "--quarantine-score", "15"), "quarantine_score"),
    (("--quarantine-days", "0"), "quarantine_days"),
    (("--reject-score", "5000"), "reject_score"),
])
def test_bad_policy_input_names_the_field(cli: Cli, services: Services, domain: str, args: tuple[str, ...],
                                          field: str) -> None:
    refused = cli("spam", "policy", "set", domain, *args)
    assert refused.returncode == 2 and refused.stderr.startswith(f"mailgothai: error: {field}: ")
    assert relay_view(services, domain, f"x@{domain}")[0] == SpamPolicy()


def test_an_unknown_domain_is_not_found(cli: Cli) -> None:
    missing = cli("spam", "policy", "show", "nobody-here.go.th")
    assert missing.returncode == 1 and "nobody-here.go.th" in missing.stderr


def test_allow_and_block_lists_of_a_domain_and_an_account(cli: Cli, services: Services, domain: str) -> None:
    user = f"somchai@{domain}"
    services.accounts.add(user, PasswordInput(generate=True))
    assert cli("spam", "block", "add", domain, "Phish.Example").returncode == 0
    assert cli("spam", "allow", "add", user, "partner@ministry.example").returncode == 0
    again = cli("spam", "block", "add", domain, "phish.example")
    assert again.returncode == 1 and "already" in again.stderr
    bad = cli("spam", "allow", "add", domain, "not a domain")
    assert bad.returncode == 2 and bad.stderr.startswith("mailgothai: error: pattern: ")
    nobody = cli("spam", "allow", "add", f"nobody@{domain}", "x.example")
    assert nobody.returncode == 1
    assert relay_view(services, domain, user)[1] == {SenderRule(domain, ListKind.BLOCK, "phish.example"),
                                                     SenderRule(user, ListKind.ALLOW, "partner@ministry.example")}
    listed = json.loads(cli("spam", "list", domain, "--json").stdout)
    assert [(r["kind"], r["pattern"]) for r in listed] == [("block", "phish.example")]
    assert "partner@ministry.example" in cli("spam", "list", user).stdout
    assert cli("spam", "block", "remove", domain, "phish.example").returncode == 0
    gone = cli("spam", "block", "remove", domain, "phish.example")
    assert gone.returncode == 1
    assert relay_view(services, domain, user)[1] == {SenderRule(user, ListKind.ALLOW, "partner@ministry.example")}
    actions = [e.action for e in services.backends.audit.query(domain=domain, limit=20)]
    assert actions.count("spam.rule.add") == 2 and actions.count("spam.rule.remove") == 1


def test_the_operators_defaults_and_bounds(cli: Cli, services: Services, domain: str) -> None:
    shown = json.loads(cli("spam", "defaults", "show", "--json").stdout)
    assert shown["lowest_score"] == 3 and shown["highest_score"] == 50
    refused = cli("spam", "defaults", "set", "--lowest-score", "60")
    assert refused.returncode == 2 and "highest_score" in refused.stderr
    try:
        done = cli("spam", "defaults", "set", "--junk-score", "5", "--no-domains-may-disable-greylisting", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["may_disable_greylisting"] is False
        assert relay_view(services, domain, f"x@{domain}")[0].junk == 5.0  # a domain without its own follows
    finally:
        assert cli("spam", "defaults", "set", "--junk-score", "6", "--domains-may-disable-greylisting").returncode == 0
    assert relay_view(services, domain, f"x@{domain}")[0] == SpamPolicy()
