"""The one failure budget of every login — web, SMTP AUTH, IMAP (Dovecot asks through
the auth policy service) — applied to the tallies in the SQL store.

Blocking calls (SQL); the relay and the policy service run them in a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mailgothai.core.login_budget import (
    BudgetRules,
    Verdict,
    after_failure,
    cleared_by_success,
    keys_for,
    verdict,
)
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.settings import Settings

if TYPE_CHECKING:
    from mailgothai.store.db import Store


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
        """Before a password is checked: refused, or how long to wait first."""
        keys = keys_for(account, ip)
        return verdict(self.rules, keys, self._tallies.read(keys.all), self._clock())

    def failed(self, account: str, ip: str) -> Verdict:
        """Count a failure; returns the verdict the next attempt from this source gets now."""
        keys = keys_for(account, ip)
        now = self._clock()
        updated = after_failure(self.rules, keys, self._tallies.read(keys.all), now)
        self._tallies.write(updated)
        if now - self._last_sweep > self.rules.window:
            self._last_sweep = now
            self._tallies.forget_before(now - self.rules.window)
        return verdict(self.rules, keys, updated, now)

    def succeeded(self, account: str, ip: str) -> None:
        """A right password from this source: its pair starts again (a read, no write when clean)."""
        keys = keys_for(account, ip)
        clear = cleared_by_success(keys)
        if self._tallies.read(clear):
            self._tallies.clear(clear)
