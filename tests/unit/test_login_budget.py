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
    admit,
    after_failure,
    cleared_by_success,
    keys_for,
    settle,
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


def test_attempts_in_flight_take_the_free_failures_so_only_those_pass_at_once() -> None:
    """The check as a reservation: attempts let through and not reported yet (parallel ones)
    each hold one of the pair's free failures; their failures then count as before."""
    b = Budget()
    keys = keys_for("somchai@moph.go.th", "192.0.2.7")
    answers = []
    for _ in range(10):  # none reports its outcome before the next is checked
        answer, changes = admit(RULES, keys, b.tallies, b.now)
        b.tallies.update(changes)
        answers.append(answer)
    assert [a.refused for a in answers] == [False] * 3 + [True] * 7
    assert all(a.pair_counted for a in answers[:3])  # their outcome must be reported
    assert answers[3].refuse_for == RULES.hold  # at most until the hold lapses
    assert b.tallies[keys.hold] == Tally(3, b.now) and keys.pair not in b.tallies
    for _ in range(3):
        b.tallies.update(settle(RULES, keys, b.tallies, b.now, "failed"))
        b.tallies = {k: t for k, t in b.tallies.items() if t is not None}
    assert keys.hold not in b.tallies
    assert b.tallies[keys.pair] == Tally(3, b.now, b.now + 10)  # refused from the 3rd failure, as one by one
    b.now += 10  # the refusal is over: one attempt in flight again, not two
    first, changes = admit(RULES, keys, b.tallies, b.now)
    b.tallies.update(changes)
    assert not first.refused and admit(RULES, keys, b.tallies, b.now)[0].refused


def test_a_success_or_a_release_gives_the_hold_back_and_an_unreported_one_lapses() -> None:
    b = Budget()
    keys = keys_for("malee@moph.go.th", "192.0.2.8")
    b.fail("malee@moph.go.th", "192.0.2.8")
    for _ in range(2):
        b.tallies.update(admit(RULES, keys, b.tallies, b.now)[1])
    assert settle(RULES, keys, b.tallies, b.now, "released") == {keys.hold: Tally(1, b.now)}  # nothing else
    assert settle(RULES, keys, b.tallies, b.now, "succeeded") == {keys.hold: Tally(1, b.now), keys.pair: None}
    assert admit(RULES, keys, b.tallies, b.now)[0].refused  # 1 failure + 2 in flight: the 3 free ones
    b.now += RULES.hold + 1  # never reported: forgotten, never a failure
    answer, changes = admit(RULES, keys, b.tallies, b.now)
    assert not answer.refused and changes == {keys.hold: Tally(1, b.now)}
    assert b.tallies[keys.pair].failures == 1


def test_a_failure_reported_without_a_check_still_counts() -> None:
    b = Budget()
    keys = keys_for("malee@moph.go.th", "192.0.2.9")
    changes = settle(RULES, keys, b.tallies, b.now, "failed")
    assert changes == {keys.hold: None, keys.pair: Tally(1, b.now)}


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


def test_the_process_shares_one_budget_over_a_store_so_attempts_in_flight_are_seen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """services/login_budget.shared_budget: the checks asked again of a logged-in user
    (second_factor.check_current_password) made a budget per call, whose attempts in flight
    no other call saw; now one per store (anew if the rules change)."""
    from mailgothai.services.login_budget import shared_budget
    from mailgothai.settings import load_settings
    from mailgothai.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    try:
        settings = load_settings(data_dir=tmp_path / "data", environ={}).replace(login_free_failures=1)
        first = shared_budget(store, settings)
        assert first is shared_budget(store, settings)
        assert not first.check("somchai@moph.go.th", "self-service:somchai@moph.go.th").refused  # in flight
        second = shared_budget(store, settings).check("somchai@moph.go.th", "self-service:somchai@moph.go.th")
        assert second.refused  # the free attempt is taken by the one in flight
        assert shared_budget(store, settings.replace(login_free_failures=2)) is not first
    finally:
        store.close()
