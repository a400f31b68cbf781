"""An administrator's own password and second factor (services/admins.py, services/totp.py):
from the web or the API, one changes one's own password only by giving the current one
(and a TOTP code if the second factor is on), counted in the login budget; an operator's
reset (set_password) of its own login, and an operator's removal of its own second factor,
are refused there, so a stolen session or token alone cannot take the account over. The
CLI (the operator at the server's console) keeps resetting any admin's password. The fakes
stand for the directory, a SQLite file for the store; the clock is injected."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest

from mailgothai.core.models import Role
from mailgothai.errors import InvalidInput
from mailgothai.services.actor import Actor
from mailgothai.services.admins import AdminService
from mailgothai.services.backends import Backends
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.tokens import TokenService, token_id
from mailgothai.services.totp import TotpService, reset_second_factor
from mailgothai.store.api_tokens import TokenRecords
from mailgothai.store.db import Store
from mailgothai.store.login_budget import LoginTallies
from tests.fakes.backends import PASSWORD, FakeWorld, fake_backends

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
NEW = "Another-own-pass-42"
OPERATOR = "somsak"
CLERK = "malee"


def actor(login: str, origin: str = "web") -> Actor:
    if login == OPERATOR:
        return Actor(OPERATOR, Role.SUPERADMIN, origin=origin)
    return Actor(CLERK, Role.DOMAIN_ADMIN, frozenset({"moph.go.th"}), origin=origin)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeWorld, Backends]]:
    fakes = fake_backends(tmp_path)
    fakes.add_admin(OPERATOR, Role.SUPERADMIN, password=PASSWORD)
    fakes.add_admin(CLERK, Role.DOMAIN_ADMIN, ("moph.go.th",), password=PASSWORD)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    backends = dataclasses.replace(fakes.backends, store=store,
                                   settings=fakes.backends.settings.replace(web_secret_key="unit-secret"))
    try:
        yield fakes, backends
    finally:
        store.close()


def refused(call, field: str) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field, caught.value
    return caught.value


def token_of(backends: Backends, login: str) -> str:
    return TokenService(backends, actor(login, "test"), clock=lambda: NOW).create("script", password=PASSWORD).token


def live_tokens(backends: Backends, login: str) -> set[str]:
    return {r.id for r in TokenRecords(backends.store).newest_first(login) if r.revoked_at is None}


@pytest.mark.parametrize("origin", ["web", "api"])
def test_an_operator_cannot_reset_its_own_password_without_the_current_one(
        world: tuple[FakeWorld, Backends], origin: str) -> None:
    _, backends = world
    service = AdminService(backends, actor(OPERATOR, origin))
    error = refused(lambda: service.set_password(OPERATOR, PasswordInput(plain=NEW)),
                    "password" if origin == "web" else "current_password")
    assert ("My security" if origin == "web" else "current_password") in str(error.why)
    refused(lambda: service.set_password(OPERATOR.upper(), PasswordInput(generate=True)),
            "password" if origin == "web" else "current_password")
    assert backends.admins.check_password(OPERATOR, PASSWORD) and not backends.admins.check_password(OPERATOR, NEW)


def test_the_cli_still_resets_any_admins_password(world: tuple[FakeWorld, Backends]) -> None:
    _, backends = world
    AdminService(backends, Actor("cli:root", Role.SUPERADMIN, origin="cli")).set_password(
        OPERATOR, PasswordInput(plain=NEW))
    assert backends.admins.check_password(OPERATOR, NEW)
    # and an operator still resets another admin's password from the web
    AdminService(backends, actor(OPERATOR)).set_password(CLERK, PasswordInput(plain=NEW))
    assert backends.admins.check_password(CLERK, NEW)


def test_a_domain_admin_changes_its_own_password_with_the_current_one(world: tuple[FakeWorld, Backends]) -> None:
    fakes, backends = world
    kept, other = token_of(backends, CLERK), token_of(backends, CLERK)
    service = AdminService(backends, actor(CLERK))
    refused(lambda: service.change_own_password("", NEW, NEW), "current_password")
    refused(lambda: service.change_own_password("Not-the-password-1", NEW, NEW), "current_password")
    refused(lambda: service.change_own_password(PASSWORD, NEW, NEW + "x"), "new_password_repeat")
    refused(lambda: service.change_own_password(PASSWORD, "short", "short"), "new_password")
    assert backends.admins.check_password(CLERK, PASSWORD)
    service.change_own_password(PASSWORD, NEW, NEW, keep_token=token_id(kept) or "")
    assert backends.admins.check_password(CLERK, NEW) and not backends.admins.check_password(CLERK, PASSWORD)
    assert live_tokens(backends, CLERK) == {token_id(kept)}, "its other tokens end, the one in use stays"
    assert token_id(other) not in live_tokens(backends, CLERK)
    [record] = [e for e in fakes.audit.entries if e.action == "admin.password"]
    assert record.actor == CLERK and record.object_id == CLERK and record.after == {"by": "self"}


def test_wrong_current_passwords_count_in_the_login_budget(world: tuple[FakeWorld, Backends]) -> None:
    _, backends = world
    service = AdminService(backends, actor(CLERK))
    free = backends.settings.login_free_failures
    for _ in range(free):
        refused(lambda: service.change_own_password("guess", NEW, NEW), "current_password")
    key = f"acct:{CLERK}"
    assert LoginTallies(backends.store).read([key])[key].failures == free
    error = refused(lambda: service.change_own_password(PASSWORD, NEW, NEW), "current_password")
    assert error.why.code == "current_password_refused"
    assert backends.admins.check_password(CLERK, PASSWORD)


def test_with_the_second_factor_on_a_fresh_code_is_needed_too(world: tuple[FakeWorld, Backends]) -> None:
    _, backends = world
    totp = TotpService(backends.store, "unit-secret", clock=lambda: NOW)
    secret = pyotp.parse_uri(totp.begin(OPERATOR)).secret
    totp.confirm(OPERATOR, pyotp.TOTP(secret).at(NOW))  # that step is used up
    service = AdminService(backends, actor(OPERATOR))
    refused(lambda: service.change_own_password(PASSWORD, NEW, NEW), "code")
    refused(lambda: service.change_own_password(PASSWORD, NEW, NEW, code="000000"), "code")
    assert backends.admins.check_password(OPERATOR, PASSWORD)


def test_an_operator_cannot_remove_its_own_second_factor_but_anothers(world: tuple[FakeWorld, Backends]) -> None:
    _, backends = world
    totp = TotpService(backends.store, "unit-secret", clock=lambda: NOW)
    for login in (OPERATOR, CLERK):
        secret = pyotp.parse_uri(totp.begin(login)).secret
        totp.confirm(login, pyotp.TOTP(secret).at(NOW))
    error = refused(lambda: reset_second_factor(totp, backends, actor(OPERATOR), OPERATOR), "login")
    assert "My security" in str(error.why)
    assert totp.enabled(OPERATOR)
    assert reset_second_factor(totp, backends, actor(OPERATOR), CLERK) and not totp.enabled(CLERK)
