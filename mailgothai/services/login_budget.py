"""The one failure budget of every login — web, SMTP AUTH, IMAP (Dovecot asks through
the auth policy service) — applied to the tallies in the SQL store.

Blocking calls (SQL); the relay and the policy service run them in a thread.

Parallel attempts: `check` reserves (core/login_budget.admit), `failed`, `succeeded` and
`released` give the reservation back (core/login_budget.settle); each of them decides and
writes in one transaction that holds the pair's row, so attempts of one pair arriving
together are decided one after another and no more than the free ones get through. The
account's and the source's failures are each added by one atomic increment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mailgothai.core.login_budget import (
    BudgetRules,
    Outcome,
    Tally,
    Verdict,
    admit,
    keys_for,
    settle,
    verdict,
)
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, StoreError
from mailgothai.settings import Settings

if TYPE_CHECKING:
    from mailgothai.store.db import Store


log = logging.getLogger(__name__)


def rules_from(settings: Settings) -> BudgetRules:
    if settings.login_free_failures < 1:
        raise InvalidInput("login_free_failures", Why.NOT_ABOVE_ZERO())
    if not 0 < settings.login_refusal_base <= settings.login_refusal_max:
        raise InvalidInput("login_refusal_base", Why.OUT_OF_RANGE(low=1, high=settings.login_refusal_max))
    return BudgetRules(pair_free=settings.login_free_failures, pair_base=float(settings.login_refusal_base),
                       pair_max=float(settings.login_refusal_max))


class LoginBudget:
    def __init__(self, store: Store, rules: BudgetRules, clock: Callable[[], float] = time.time) -> None:
        from mailgothai.store.login_budget import LoginTallies  # here: importing this module costs no SQLAlchemy

        self._tallies = LoginTallies(store)
        self.rules = rules
        self._clock = clock
        self._last_sweep = 0.0

    def check(self, account: str, ip: str) -> Verdict:
        """Before a password is checked: refused, or how long to wait first. An attempt let
        through is held as in flight until its outcome is reported (its verdict has
        `pair_counted`): `failed`, `succeeded` or `released`; unreported, its hold lasts
        `rules.hold` seconds."""
        keys = keys_for(account, ip)
        now = self._clock()
        decided: list[Verdict] = []

        def reserve(tallies: dict[str, Tally]) -> dict[str, Tally]:
            answer, changes = admit(self.rules, keys, tallies, now)
            decided[:] = [answer]  # taken out of the transaction
            return dict(changes)

        self._tallies.update_locked(keys.pair, (keys.account, keys.source, keys.hold), reserve)
        return decided[0]

    def _settle(self, account: str, ip: str, outcome: Outcome) -> float:
        keys = keys_for(account, ip)
        now = self._clock()
        if outcome != "failed" and not self._tallies.read((keys.pair, keys.hold)):
            return now  # nothing in flight, nothing to clear: no write
        self._tallies.update_locked(keys.pair, (keys.hold,), lambda tallies: settle(
            self.rules, keys, tallies, now, outcome))
        return now

    def failed(self, account: str, ip: str) -> Verdict:
        """Count a failure; returns the verdict the next attempt from this source gets now."""
        keys = keys_for(account, ip)
        now = self._settle(account, ip, "failed")
        self._tallies.add_failures((keys.account, keys.source), now, self.rules.window)
        if now - self._last_sweep > self.rules.window:
            self._last_sweep = now
            try:
                self._tallies.forget_before(now - self.rules.window)
            except StoreError as exc:  # housekeeping (PostgreSQL may pick it as a deadlock's victim)
                log.warning("login tallies not swept: %s", exc)
        return verdict(self.rules, keys, self._tallies.read(keys.all), now)

    def succeeded(self, account: str, ip: str) -> None:
        """A right password from this source: its pair starts again."""
        self._settle(account, ip, "succeeded")

    def released(self, account: str, ip: str) -> None:
        """An attempt `check` let through ended neither as a failure nor as a success that
        clears the pair (e.g. the password could not be checked): it is no longer in flight,
        and nothing is counted or cleared."""
        self._settle(account, ip, "released")
