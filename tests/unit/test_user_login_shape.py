"""A mail user's web login (services/auth.py) with a login that is no address: the
ordinary wrong-login answer, counted in the budget like any failure, and no directory
call (`x@` raised IndexError in escape_rdn, a 500 on /mail/login; a NUL made an invalid
DN). The budget's key holds no control character (PostgreSQL refuses a NUL in text)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from mailgothai.core.login_budget import Verdict
from mailgothai.services.auth import Authenticator
from mailgothai.services.login_budget import LoginBudget
from tests.fakes import fake_backends

NOT_ADDRESSES = ("x@", "@", "x@@a.go.th", "a@b@c.go.th", "x\x00@a.go.th", "\x00", "somchai@a.go.th\x00",
                 "no-at-all", " ", "x@.", "x@a..go.th", "\ud800@a.go.th")


class Budget:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, account: str, ip: str) -> Verdict:
        return Verdict()

    def failed(self, account: str, ip: str) -> Verdict:
        self.failures.append(account)
        return Verdict()

    def succeeded(self, account: str, ip: str) -> None:
        raise AssertionError("no login may succeed here")


class Untouchable:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the directory was asked ({name}) about a login that is no address")


@pytest.mark.parametrize("login", NOT_ADDRESSES)
def test_a_login_that_is_no_address_is_a_wrong_login_without_asking_the_directory(tmp_path: Path,
                                                                                  login: str) -> None:
    world = fake_backends(tmp_path)
    backends = world.backends
    backends.accounts = Untouchable()  # type: ignore[assignment]
    backends.domains = Untouchable()  # type: ignore[assignment]
    budget = Budget()
    auth = Authenticator(backends, cast(LoginBudget, budget), sleep=lambda _: None)
    outcome = auth.user(login, "Some-password-1", "192.0.2.7")
    assert not outcome.ok and not outcome.locked_for
    [key] = budget.failures  # counted, as a wrong password is
    assert key.isprintable() and len(key) <= 320
