"""One failure budget per account for every way of logging in (web, SMTP AUTH, IMAP).

Pure: tallies in, verdicts and new tallies out, the time passed in. The store keeps the
tallies (store/login_budget.py) so every process and machine counts into the same ones;
services/login_budget.py applies this rule to them.

Three tallies are kept for a login attempt:

- the pair (account, source): the source is the client's IPv4 address or its IPv6 /64.
  After `pair_free` failures, further attempts of that account from that source are
  refused without checking the password for `pair_base` seconds, doubled with each
  further failure up to `pair_max`. A success from the source clears the pair.
- the account, over all sources: past `account_free` failures every attempt on the
  account waits before it is checked (`tarpit_base` doubled, at most `tarpit_max`
  seconds). It is never refused for it: nobody can lock a user out from everywhere.
- the source, over all accounts (password spraying): the same tarpit past `source_free`.

A tally is forgotten `window` seconds after its last failure.

Attempts run in parallel (one client's many connections), so the check before a password
also reserves (`admit`): the attempts let through and not yet reported (in flight) are held
in a fourth tally, the pair's hold (each process's own, in memory), and count against
the pair's free failures until their outcome comes (`settle`: a failure is counted for the
pair, a success clears it; either way the hold is given back). However many attempts arrive
together, no more than the free ones pass, and after a refusal ends only one. A hold whose
outcome never comes (the password check raised) is forgotten `hold` seconds after the last
attempt let through: it is never counted as a failure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["failed", "succeeded", "released"]


@dataclass(frozen=True)
class BudgetRules:
    pair_free: int = 5
    pair_base: float = 30.0
    pair_max: float = 900.0
    account_free: int = 20
    source_free: int = 100  # an agency behind one NAT address mistypes too
    tarpit_base: float = 0.5
    tarpit_max: float = 5.0
    window: float = 3600.0
    hold: float = 60.0  # how long an attempt let through may take to report its outcome

    def __post_init__(self) -> None:
        if self.pair_free < 1 or self.account_free < 1 or self.source_free < 1:
            raise ValueError("free failures must be at least 1")
        if not 0 < self.pair_base <= self.pair_max or not 0 <= self.tarpit_base <= self.tarpit_max:
            raise ValueError("delays must be positive and no more than their cap")
        if self.hold <= 0:
            raise ValueError("the hold must be positive")


@dataclass(frozen=True)
class Tally:
    failures: int
    last_failure: float  # seconds since the epoch
    refused_until: float = 0.0  # pairs only


@dataclass(frozen=True)
class BudgetKeys:
    pair: str
    account: str
    source: str

    @property
    def all(self) -> tuple[str, str, str]:
        return self.pair, self.account, self.source

    @property
    def hold(self) -> str:
        """The pair's attempts in flight (`failures`: how many; `last_failure`: when the last
        was let through). As long as the pair's own key, which the column is sized for."""
        return "hold:" + self.pair.removeprefix("pair:")


@dataclass(frozen=True)
class Verdict:
    refuse_for: float = 0.0  # > 0: refuse without checking the password; seconds until it may try
    delay: float = 0.0  # otherwise: seconds to wait before the password is checked
    # this (account, source) has failures on record, which a success clears (not part of the decision)
    pair_counted: bool = field(default=False, compare=False)

    @property
    def refused(self) -> bool:
        return self.refuse_for > 0


def source_of(ip: str) -> str:
    """The source a client address counts as: an IPv4 address itself, an IPv6 address's
    /64 (one host usually holds a whole /64), an IPv4-mapped IPv6 address as IPv4."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip.strip()[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def keys_for(account: str, ip: str) -> BudgetKeys:
    name = account.strip().lower()[:320]
    source = source_of(ip)
    return BudgetKeys(f"pair:{source}|{name}", f"acct:{name}", f"src:{source}")


def _live(tally: Tally | None, rules: BudgetRules, now: float) -> Tally | None:
    if tally is None or now - tally.last_failure > rules.window:
        return None
    return tally


def _tarpit(failures: int, free: int, rules: BudgetRules) -> float:
    extra = failures - free
    if extra <= 0:
        return 0.0
    return min(rules.tarpit_max, rules.tarpit_base * 2.0 ** min(extra - 1, 30))


def refusal_after(failures: int, rules: BudgetRules) -> float:
    """Seconds a pair is refused after its `failures`-th failure (0 while within the free ones)."""
    extra = failures - rules.pair_free
    if extra < 0:
        return 0.0
    return min(rules.pair_max, rules.pair_base * 2.0 ** min(extra, 30))


def verdict(rules: BudgetRules, keys: BudgetKeys, tallies: Mapping[str, Tally], now: float) -> Verdict:
    """What to do with an attempt now, before its password is checked."""
    counted = keys.pair in tallies
    pair = _live(tallies.get(keys.pair), rules, now)
    if pair is not None and pair.refused_until > now:
        return Verdict(refuse_for=pair.refused_until - now, pair_counted=counted)
    account = _live(tallies.get(keys.account), rules, now)
    source = _live(tallies.get(keys.source), rules, now)
    delay = max(_tarpit(account.failures if account else 0, rules.account_free, rules),
                _tarpit(source.failures if source else 0, rules.source_free, rules))
    return Verdict(delay=delay, pair_counted=counted)


def after_failure(rules: BudgetRules, keys: BudgetKeys, tallies: Mapping[str, Tally],
                  now: float) -> dict[str, Tally]:
    """The three tallies once this failure is counted."""
    updated: dict[str, Tally] = {}
    for key in keys.all:
        live = _live(tallies.get(key), rules, now)
        failures = (live.failures if live else 0) + 1
        refused = now + refusal_after(failures, rules) if key == keys.pair and refusal_after(failures, rules) else 0.0
        updated[key] = Tally(failures, now, refused)
    return updated


def _in_flight(rules: BudgetRules, keys: BudgetKeys, tallies: Mapping[str, Tally], now: float) -> int:
    hold = tallies.get(keys.hold)
    return hold.failures if hold is not None and now - hold.last_failure <= rules.hold else 0


def admit(rules: BudgetRules, keys: BudgetKeys, tallies: Mapping[str, Tally],
          now: float) -> tuple[Verdict, dict[str, Tally]]:
    """The check before a password, as a reservation: the verdict, and the tallies to write
    with it (the pair's hold one more, if the attempt may go on; nothing if refused).
    `tallies` has the pair's hold besides the three. An attempt is also refused while the
    attempts in flight would use up the pair's free failures (or are the one attempt after
    a refusal): for as long as their hold lasts at most. The verdict of an attempt let
    through has `pair_counted`: its outcome must be reported (`settle`), to give it back."""
    decided = verdict(rules, keys, tallies, now)
    if decided.refused:
        return decided, {}
    in_flight = _in_flight(rules, keys, tallies, now)
    pair = _live(tallies.get(keys.pair), rules, now)
    if in_flight and (pair.failures if pair else 0) + in_flight >= rules.pair_free:
        wait = tallies[keys.hold].last_failure + rules.hold - now
        return Verdict(refuse_for=max(1.0, wait), pair_counted=decided.pair_counted), {}
    return (Verdict(delay=decided.delay, pair_counted=True),
            {keys.hold: Tally(in_flight + 1, now)})


def settle(rules: BudgetRules, keys: BudgetKeys, tallies: Mapping[str, Tally], now: float,
           outcome: Outcome) -> dict[str, Tally | None]:
    """An attempt's outcome, `failed`, `succeeded` or `released` (it ended neither way: it
    clears nothing and counts nothing): the pair's tallies to write (None: remove). One
    attempt in flight is given back; a failure is counted for the pair, a success clears
    it (`cleared_by_success`). A report with no attempt in flight still counts."""
    in_flight = _in_flight(rules, keys, tallies, now)
    hold = tallies.get(keys.hold)
    changes: dict[str, Tally | None] = {
        keys.hold: Tally(in_flight - 1, hold.last_failure) if hold is not None and in_flight > 1 else None}
    if outcome == "failed":
        changes[keys.pair] = after_failure(rules, keys, tallies, now)[keys.pair]
    elif outcome == "succeeded":
        changes.update(dict.fromkeys(cleared_by_success(keys)))
    elif outcome != "released":
        raise ValueError(f"outcome: {outcome!r}")
    return changes


def cleared_by_success(keys: BudgetKeys) -> tuple[str, ...]:
    """A success clears its own pair only: neither the account's count over all sources
    (an attacker elsewhere keeps paying) nor the source's (spraying from an address
    that also holds one good password is still spraying)."""
    return (keys.pair,)
