"""Creating an API token (services/tokens.py) asks again for the admin's own password, and
its TOTP code when it has the second factor on (services/reauth.py), counted in the login
budget: a stolen session or token alone cannot mint a lasting way in. Every new token
expires: after 90 days unless 1 to 365 are given. The fakes stand for the directory, a
SQLite file for the store; the clock is injected."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from mailgothai.core.models import Role
from mailgothai.errors import InvalidInput
from mailgothai.services.actor import Actor
from mailgothai.services.auth import code_name
from mailgothai.services.tokens import TokenService
from mailgothai.services.totp import TotpService
from mailgothai.store.api_tokens import TokenRecords
from mailgothai.store.db import Store
from mailgothai.store.login_budget import LoginTallies
from tests.fakes.backends import PASSWORD, fake_backends

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
LOGIN = "somsak"
ACTOR = Actor(LOGIN, Role.DOMAIN_ADMIN, frozenset({"moph.go.th"}), origin="test")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TokenService, Store]]:
    fakes = fake_backends(tmp_path)
    fakes.add_admin(LOGIN, Role.DOMAIN_ADMIN, ("moph.go.th",), password=PASSWORD)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    backends = dataclasses.replace(fakes.backends, store=store,
                                   settings=fakes.backends.settings.replace(web_secret_key="unit-secret"))
    try:
        yield TokenService(backends, ACTOR, clock=lambda: NOW), store
    finally:
        store.close()


def tokens_in(store: Store) -> int:
    return len(TokenRecords(store).newest_first())


def refused(call, field: str) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field, caught.value
    return caught.value


def test_without_the_password_or_with_a_wrong_one_nothing_is_made(world: tuple[TokenService, Store]) -> None:
    service, store = world
    refused(lambda: service.create("script", password=""), "password")
    refused(lambda: service.create("script", password="not-it"), "password")
    assert tokens_in(store) == 0
    made = service.create("script", password=PASSWORD)
    assert made.token.startswith("mgt_") and tokens_in(store) == 1


def test_wrong_passwords_count_in_the_login_budget(world: tuple[TokenService, Store]) -> None:
    """As the mail users' current-password checks: five wrong ones, and for a while even the
    right one is refused (without a check); nothing was made."""
    service, store = world
    for _ in range(5):
        refused(lambda: service.create("script", password="guess"), "password")
    key = f"acct:{LOGIN}"  # the admin's own tally, which its web logins fill too
    assert LoginTallies(store).read([key])[key].failures == 5
    error = refused(lambda: service.create("script", password=PASSWORD), "password")
    assert error.why.code == "current_password_refused"
    assert tokens_in(store) == 0


def test_with_the_second_factor_on_a_fresh_code_is_needed_too(world: tuple[TokenService, Store]) -> None:
    service, store = world
    totp = TotpService(store, "unit-secret", clock=lambda: NOW)
    steps = pyotp.parse_uri(totp.begin(LOGIN))
    totp.confirm(LOGIN, steps.at(NOW - timedelta(seconds=30)))
    refused(lambda: service.create("script", password=PASSWORD), "code")
    wrong = f"{(int(steps.at(NOW)) + 1) % 1000000:06d}"
    refused(lambda: service.create("script", password=PASSWORD, code=wrong), "code")
    key = f"acct:{code_name(LOGIN)}"  # counted as the login's second step is
    assert LoginTallies(store).read([key])[key].failures == 1
    refused(lambda: service.create("script", password="guess", code=steps.at(NOW)), "password")
    assert tokens_in(store) == 0
    assert service.create("script", password=PASSWORD, code=steps.at(NOW)).token
    refused(lambda: service.create("again", password=PASSWORD, code=steps.at(NOW)), "code")  # used up
    assert tokens_in(store) == 1


def test_a_new_token_expires_after_90_days_unless_1_to_365_are_given(world: tuple[TokenService, Store]) -> None:
    service, store = world
    made = service.create("default", password=PASSWORD)
    assert made.info.created_at == NOW and made.info.expires_at == NOW + timedelta(days=90)
    assert service.create("blank", "", password=PASSWORD).info.expires_at == NOW + timedelta(days=90)
    assert service.create("year", 365, password=PASSWORD).info.expires_at == NOW + timedelta(days=365)
    assert service.create("day", "1", password=PASSWORD).info.expires_at == NOW + timedelta(days=1)
    for days in (366, 3650, 0, "-1"):
        error = refused(lambda: service.create("long", days, password=PASSWORD), "days")  # noqa: B023
        assert "365" in str(error.why)
    assert sorted(t.expires_at - t.created_at for t in service.list()) == [timedelta(days=d) for d in (1, 90, 90, 365)]
