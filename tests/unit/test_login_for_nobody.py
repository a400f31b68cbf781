"""A login for an address nobody (active) holds spends one argon2id verification all the
same (core/passwords.verify_for_nobody), on the web (a mail user, an admin) and at SMTP
AUTH: the answer takes as long as a wrong password's for a real account, whose password
slapd verifies, so the time tells nobody which addresses exist. (What is asserted is that
the verification is spent, not how long anything takes.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest

from mailgothai.core.login_budget import Verdict
from mailgothai.core.models import Domain
from mailgothai.core.passwords import Argon2Params, verify_for_nobody
from mailgothai.directory.gateway import Gateway
from mailgothai.relay.auth import Authenticator as RelayAuthenticator
from mailgothai.relay.lookup import AddressEntry, DomainInfo, RelayDirectory
from mailgothai.services import auth as web_auth
from mailgothai.services.login_budget import LoginBudget
from tests.fakes import fake_backends

PASSWORD = "Guess-the-pw-1"


class Budget:
    def check(self, account: str, ip: str) -> Verdict:
        return Verdict()

    def failed(self, account: str, ip: str) -> Verdict:
        return Verdict()

    def succeeded(self, account: str, ip: str) -> None:
        raise AssertionError("no login may succeed here")

    def released(self, account: str, ip: str) -> None:
        pass


@pytest.fixture
def spent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(web_auth, "verify_for_nobody", lambda plain, params: calls.append(plain))
    return calls


def test_a_mail_login_for_an_address_nobody_holds_spends_a_verification(
        tmp_path: Path, spent: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_auth.Authenticator, "_user_second_factor", lambda self, address: False)
    world = fake_backends(tmp_path)
    world.backends.domains.create(Domain("a.go.th"))
    auth = web_auth.Authenticator(world.backends, cast(LoginBudget, Budget()), sleep=lambda _: None)
    assert not auth.user("nobody@a.go.th", PASSWORD, "192.0.2.7").ok
    assert spent == [PASSWORD]


def test_an_admin_login_for_a_login_nobody_holds_spends_a_verification(tmp_path: Path, spent: list[str]) -> None:
    world = fake_backends(tmp_path)
    auth = web_auth.Authenticator(world.backends, cast(LoginBudget, Budget()), sleep=lambda _: None)
    assert not auth.admin("nobody", PASSWORD, "192.0.2.7").ok
    assert spent == [PASSWORD]


class Directory:
    """The relay's directory with one active account, somchai@a.go.th."""

    def canonical(self, login: str) -> str:
        return login

    def address(self, login: str) -> AddressEntry | None:
        if login != "somchai@a.go.th":
            return None
        return AddressEntry(kind="mailbox", address=login, active=True, version="csn-1")

    def domain(self, name: str) -> DomainInfo | None:
        return DomainInfo(name=name, active=True, max_message_size=1, hourly_send_limit=0)

    def account_dn(self, login: str) -> str:
        return f"mail={login},ou=users"


class Binds:
    def __init__(self) -> None:
        self.binds: list[str] = []

    def check_password(self, dn: str, plain: str) -> bool:
        self.binds.append(dn)
        return False


def test_smtp_auth_for_an_address_nobody_holds_spends_a_verification_and_a_real_one_binds() -> None:
    spent: list[str] = []
    gateway = Binds()
    auth = RelayAuthenticator(cast(RelayDirectory, Directory()), cast(Gateway, gateway), 60.0,
                              cast(LoginBudget, Budget()), for_nobody=spent.append)
    assert asyncio.run(auth.verify(b"nobody@a.go.th", PASSWORD.encode(), "192.0.2.7")).login is None
    assert spent == [PASSWORD] and gateway.binds == []
    assert asyncio.run(auth.verify(b"somchai@a.go.th", PASSWORD.encode(), "192.0.2.7")).login is None
    assert spent == [PASSWORD] and gateway.binds == ["mail=somchai@a.go.th,ou=users"]  # slapd verifies


@pytest.mark.parametrize("plain", ["", "ผิด", PASSWORD, "x" * 300])
def test_the_verification_for_nobody_never_matches_and_never_raises(plain: str) -> None:
    verify_for_nobody(plain, Argon2Params(time_cost=1, memory_kib=8, parallelism=1))
