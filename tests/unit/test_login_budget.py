"""The login budget's rule (core/login_budget.py) and Dovecot's policy protocol
(core/auth_policy.py), with a clock the test moves."""

from __future__ import annotations

import json

import pytest

from mailgothai.core.auth_policy import PolicyRequestError, answer, parse_request
from mailgothai.core.login_budget import (
    BudgetRules,
    Tally,
    Verdict,
    after_failure,
    cleared_by_success,
    keys_for,
    source_of,
    verdict,
)

RULES = BudgetRules(pair_free=3, pair_base=10, pair_max=80, account_free=6, source_free=9,
                    tarpit_base=0.5, tarpit_max=4, window=3600)


class Budget:
    """The rule over a dict, as the store keeps it."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self.now = 1_000_000.0

    def check(self, account: str, ip: str) -> Verdict:
        return verdict(RULES, keys_for(account, ip), self.tallies, self.now)

    def fail(self, account: str, ip: str) -> None:
        self.tallies.update(after_failure(RULES, keys_for(account, ip), self.tallies, self.now))

    def succeed(self, account: str, ip: str) -> None:
        for key in cleared_by_success(keys_for(account, ip)):
            self.tallies.pop(key, None)


def test_a_source_is_refused_for_growing_times_up_to_the_cap() -> None:
    b = Budget()
    for _ in range(2):
        b.fail("somchai@moph.go.th", "192.0.2.7")
        assert b.check("somchai@moph.go.th", "192.0.2.7") == Verdict()
    waits = []
    for _ in range(6):
        b.fail("somchai@moph.go.th", "192.0.2.7")
        waits.append(b.check("somchai@moph.go.th", "192.0.2.7").refuse_for)
        b.now += waits[-1]  # wait it out exactly, then fail again
        assert not b.check("somchai@moph.go.th", "192.0.2.7").refused
    assert waits == [10, 20, 40, 80, 80, 80]


def test_another_source_of_the_same_account_is_never_refused_only_slowed_a_little() -> None:
    b = Budget()
    for n in range(40):  # a distributed attack: 40 failures from 40 addresses
        b.fail("Somchai@MOPH.go.th", f"198.51.100.{n}")
    user = b.check("somchai@moph.go.th", "203.0.113.5")
    assert not user.refused
    assert 0 < user.delay <= RULES.tarpit_max
    b.succeed("somchai@moph.go.th", "203.0.113.5")
    assert not b.check("somchai@moph.go.th", "203.0.113.5").refused


def test_a_success_clears_only_its_own_source() -> None:
    b = Budget()
    for ip in ("192.0.2.1", "192.0.2.2"):
        for _ in range(3):
            b.fail("malee@moph.go.th", ip)
    b.now += 10  # the first refusal is over
    b.succeed("malee@moph.go.th", "192.0.2.1")
    b.fail("malee@moph.go.th", "192.0.2.1")  # counts from one again: not refused
    assert not b.check("malee@moph.go.th", "192.0.2.1").refused
    b.fail("malee@moph.go.th", "192.0.2.2")  # the 4th from this source: refused for 20 s
    assert b.check("malee@moph.go.th", "192.0.2.2").refuse_for == 20


def test_spraying_many_accounts_from_one_source_is_slowed() -> None:
    b = Budget()
    for n in range(12):
        b.fail(f"user{n}@moph.go.th", "192.0.2.9")
    assert b.check("someone-else@moph.go.th", "192.0.2.9").delay == 2.0  # 3 past the 9 free: 0.5 * 2**2
    assert b.check("someone-else@moph.go.th", "192.0.2.10").delay == 0


def test_tallies_are_forgotten_after_the_window() -> None:
    b = Budget()
    for _ in range(3):
        b.fail("a@moph.go.th", "192.0.2.1")
    b.now += RULES.window + 1
    b.fail("a@moph.go.th", "192.0.2.1")
    assert b.tallies[keys_for("a@moph.go.th", "192.0.2.1").pair].failures == 1
    assert not b.check("a@moph.go.th", "192.0.2.1").refused


def test_sources_ipv6_by_64_and_mapped_ipv4() -> None:
    assert source_of("2001:db8:1:2:aaaa::1") == source_of("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert source_of("::ffff:192.0.2.1") == "192.0.2.1"
    assert keys_for(" Somchai@MOPH.go.th ", "192.0.2.1") == keys_for("somchai@moph.go.th", "192.0.2.1")


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        BudgetRules(pair_free=0)
    with pytest.raises(ValueError):
        BudgetRules(pair_base=100, pair_max=10)


def test_dovecot_requests_and_answers() -> None:
    request = {"login": "a@b.go.th", "remote": "192.0.2.1", "protocol": "imap"}
    allow = parse_request("allow", json.dumps(request).encode())
    assert (allow.command, allow.login, allow.remote, allow.protocol) == ("allow", "a@b.go.th", "192.0.2.1", "imap")
    report = parse_request("report", b'{"login":"a@b.go.th","remote":"192.0.2.1","success":false,"policy_reject":true}')
    assert report.success is False and report.policy_reject is True
    for command, body, part in (("deny", b"{}", "command"), ("allow", b"[1]", "body"), ("allow", b"{", "body"),
                                ("allow", b'{"remote":"192.0.2.1"}', "login"),
                                ("report", b'{"login":"a","remote":"b","success":"yes"}', "success")):
        with pytest.raises(PolicyRequestError, match=f"^{part}:"):
            parse_request(command, body)
    assert answer(Verdict()) == {"status": 0, "msg": ""}
    assert answer(Verdict(delay=0.5)) == {"status": 1, "msg": ""}
    refused = answer(Verdict(refuse_for=29.2))
    assert refused["status"] == -1 and "30 s" in refused["msg"]


def test_a_verdict_says_whether_a_success_has_failures_to_clear() -> None:
    """The relay skips the store after a right password when the check found nothing to
    clear: the verdict must say so, and only for this source's own count."""
    b = Budget()
    assert not b.check("somchai@moph.go.th", "192.0.2.7").pair_counted
    b.fail("somchai@moph.go.th", "192.0.2.7")
    assert b.check("somchai@moph.go.th", "192.0.2.7").pair_counted
    assert not b.check("somchai@moph.go.th", "192.0.2.99").pair_counted  # the account's count elsewhere
    b.succeed("somchai@moph.go.th", "192.0.2.7")
    assert not b.check("somchai@moph.go.th", "192.0.2.7").pair_counted
