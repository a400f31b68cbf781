"""The one failure budget of every login — web, SMTP AUTH, IMAP (Dovecot asks through
the auth policy service) — applied to the tallies in the SQL store.

Blocking calls (SQL); the relay and the policy service run them in a thread.

Parallel attempts: `check` reserves (core/login_budget.admit) in this process's memory and
reads the store (no write: a login that succeeds writes nothing unless its pair had
failures); `failed`, `succeeded` and `released` give the reservation back (core's settle).
A failure is counted for the pair in one transaction that holds the pair's row, and for the
account and the source by one atomic increment each, so none is lost to a writer at the
same time. Attempts of one pair arriving together at one process pass no more than its free
failures; at several processes, that many each.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from mailgothai.core.login_budget import (
    BudgetRules,
    Outcome,
    Tally,
    Verdict,
    admit,
    cleared_by_success,
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
STRIPES = 256  # locks the pairs of a process share (a pair always the same one)


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
        self._lock = threading.Lock()
        self._holds: dict[str, Tally] = {}  # a pair's attempts in flight at this process (core: the hold)
        self._last_prune = 0.0
        # A pair's check (its hold and the store read) and its outcome (the store write and
        # the hold given back) each happen under the pair's stripe: a check never sees one
        # failure twice, written and still held (it refused a free attempt early).
        self._stripes = tuple(threading.Lock() for _ in range(STRIPES))

    def _stripe(self, key: str) -> threading.Lock:
        return self._stripes[hash(key) % STRIPES]

    def check(self, account: str, ip: str) -> Verdict:
        """Before a password is checked: refused, or how long to wait first. An attempt let
        through is held as in flight until its outcome is reported (its verdict has
        `pair_counted`): `failed`, `succeeded` or `released`; unreported, its hold lasts
        `rules.hold` seconds.

        The hold is this process's (memory, under a lock), the failures the store's: a
        login reads the store and writes nothing unless it fails, and attempts of one pair
        arriving together at one process pass no more than its free failures (at several
        processes — relays, the policy service, the web — at most that many each, and every
        failure is counted). The attempt is held before the store is read and given back if
        refused, so a failure written meanwhile is seen or still held, never missed."""
        keys = keys_for(account, ip)
        with self._stripe(keys.hold):
            now = self._clock()
            before = self._hold(keys.hold, now, +1)
            try:
                tallies = self._tallies.read(keys.all)
            except BaseException:
                self._hold(keys.hold, now, -1)
                raise
            if before is not None:
                tallies[keys.hold] = before
            answer, changes = admit(self.rules, keys, tallies, now)
            if keys.hold in changes:
                with self._lock:  # admitted: its hold's time is now
                    held = self._holds.get(keys.hold)
                    if held is not None:
                        self._holds[keys.hold] = Tally(held.failures, now)
            else:
                self._hold(keys.hold, now, -1)
            return answer

    def _hold(self, key: str, now: float, step: int) -> Tally | None:
        """Add `step` to the attempts in flight under `key` (a lapsed hold counts none);
        returns the hold as it was (None: none in flight)."""
        with self._lock:
            if now - self._last_prune > self.rules.hold:
                self._last_prune = now
                self._holds = {k: t for k, t in self._holds.items() if now - t.last_failure <= self.rules.hold}
            held = self._holds.get(key)
            if held is not None and now - held.last_failure > self.rules.hold:
                held = None
            count = (held.failures if held is not None else 0) + step
            if count > 0:
                self._holds[key] = Tally(count, held.last_failure if held is not None else now)
            else:
                self._holds.pop(key, None)
            return held

    def _settle(self, account: str, ip: str, outcome: Outcome, proves: Callable[[], bool] | None = None) -> float:
        """The store's part of an outcome first (a failure counted for the pair, a success
        clearing it if it `proves` what the failures guessed), then the attempt is no longer held."""
        keys = keys_for(account, ip)
        with self._stripe(keys.hold):
            now = self._clock()
            try:
                if outcome == "failed":
                    self._tallies.update_locked(keys.pair, (), lambda tallies: {
                        k: t for k, t in settle(self.rules, keys, tallies, now, outcome).items() if k != keys.hold})
                elif outcome == "succeeded":
                    clear = cleared_by_success(keys)
                    if self._tallies.read(clear) and (proves is None or proves()):
                        self._tallies.clear(clear)
            finally:
                self._hold(keys.hold, now, -1)
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

    def succeeded(self, account: str, ip: str, proves: Callable[[], bool] | None = None) -> None:
        """A right password from this source: its pair starts again. `proves` (blocking; asked
        only when the pair has failures to clear): whether the credential that succeeded is the
        one those failures may have guessed — False (e.g. an app password, while the failures
        under the login may be guesses at the main password: core/app_passwords.
        success_clears_login_failures) clears nothing, and the attempt is only no longer in flight."""
        self._settle(account, ip, "succeeded", proves)

    def released(self, account: str, ip: str) -> None:
        """An attempt `check` let through ended neither as a failure nor as a success that
        clears the pair (e.g. the password could not be checked): it is no longer in flight,
        and nothing is counted or cleared."""
        self._settle(account, ip, "released")

    def counted(self, account: str, ip: str, check: Callable[[], bool]) -> bool:
        """`check` (a password or code asked again of someone logged in), counted as a login:
        while the pair is refused, Exhausted without calling it; else after the verdict's wait,
        its answer — a right one clears the pair, a wrong one counts. One that raises (the
        directory away) made no guess: nothing counted."""
        decided = self.check(account, ip)
        if decided.refused:
            raise Exhausted(decided.refuse_for)
        if decided.delay:
            time.sleep(decided.delay)
        try:
            right = check()
        except BaseException:
            self.released(account, ip)
            raise
        if right:
            self.succeeded(account, ip)
        else:
            self.failed(account, ip)
        return right


class Exhausted(Exception):
    """The budget refuses an attempt without checking it, for `minutes` more (at least 1)."""

    def __init__(self, refuse_for: float) -> None:
        super().__init__(f"refused for {refuse_for:.0f} s")
        self.minutes = max(1, math.ceil(refuse_for / 60))


_shared: weakref.WeakKeyDictionary[object, LoginBudget] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def shared_budget(store: Store, settings: Settings) -> LoginBudget:
    """This process's one LoginBudget over `store`, for every check made over it (the web's
    logins, the passwords and codes asked again of a logged-in user): the attempts held in
    flight are in its memory, so checks that each made a budget of their own never saw each
    other's. Made at the first call; anew if the settings' rules changed."""
    rules = rules_from(settings)
    with _shared_lock:
        try:
            budget = _shared.get(store)
        except TypeError:  # a store that cannot be weakly referenced: a budget of its own
            return LoginBudget(store, rules)
        if budget is None or budget.rules != rules:
            budget = LoginBudget(store, rules)
            _shared[store] = budget
        return budget
