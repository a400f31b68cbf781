"""The last-login writer's batching (services/last_login.py), on in-memory stand-ins for
the directory search and the SQL table: a burst of logins is one directory search and one
write; a login never waits for either; logins survive a store that is away; the newest
login of an account wins; what waits is written at shutdown."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mailgothai.authpolicy.app import create_app
from mailgothai.core.last_login import LastLogin, Owner
from mailgothai.core.login_budget import BudgetRules
from mailgothai.errors import StoreError
from mailgothai.services.last_login import LoginRecorder
from mailgothai.services.login_budget import LoginBudget
from mailgothai.store import Store
from mailgothai.store.last_login import LastLogins
from tests.unit.test_auth_policy_app import SECRET, Policy


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[Owner, LastLogin]] = {}
        self.writes = 0
        self.down = False
        self.gate: threading.Event | None = None

    def record(self, logins: Mapping[str, tuple[Owner, LastLogin]]) -> int:
        if self.gate is not None:
            self.gate.wait()
        if self.down:
            raise StoreError("SQL store: unreachable")
        self.writes += 1
        for key, value in logins.items():
            if key not in self.rows or self.rows[key][1].seen_ms < value[1].seen_ms:
                self.rows[key] = value
        return len(logins)


class Directory:
    def __init__(self, accounts: dict[str, str]) -> None:
        self.accounts = accounts  # address -> mailbox id
        self.searches = 0

    def resolve(self, logins: Sequence[str]) -> dict[str, Owner]:
        self.searches += 1
        return {a: Owner(self.accounts[a], a, a.rpartition("@")[2]) for a in logins if a in self.accounts}


def clock_at(values: list[float]) -> Any:
    return lambda: values[0]


def test_a_burst_of_logins_is_one_search_and_one_write() -> None:
    table, directory = Table(), Directory({f"u{i}@a.go.th": f"id-{i}" for i in range(300)})
    now = [1_700_000_000.0]
    recorder = LoginRecorder(table, directory.resolve, every=3600, batch=10_000, clock=clock_at(now))  # type: ignore[arg-type]
    for round_ in range(3):
        for i in range(300):
            now[0] += 0.001
            recorder.record(f"U{i}@A.go.th", "imap", f"10.0.{round_}.{i % 250}")
    recorder.record("nobody@a.go.th", "imap", "10.9.9.9")  # no such account: left out
    assert table.writes == 0 and directory.searches == 0  # nothing written while logging in
    assert recorder.flush() == 300
    assert (table.writes, directory.searches) == (1, 1)
    assert table.rows["id-7"][1].source == "10.0.2.7"  # the newest login of each account
    assert recorder.flush() == 0 and table.writes == 1


def test_logins_wait_while_the_store_is_away_and_are_written_later() -> None:
    table, directory = Table(), Directory({"a@a.go.th": "id-a"})
    recorder = LoginRecorder(table, directory.resolve, every=3600)  # type: ignore[arg-type]
    table.down = True
    recorder.record("a@a.go.th", "smtp", "192.0.2.1")
    assert recorder.flush() == 0 and recorder.pending == 1
    table.down = False
    recorder.record("a@a.go.th", "web", "192.0.2.2")  # newer: it wins over the one that waited
    assert recorder.flush() == 1
    assert table.rows["id-a"][1].protocol == "web"


def test_a_login_never_waits_for_a_slow_write_and_stop_writes_what_waits() -> None:
    table, directory = Table(), Directory({"a@a.go.th": "id-a", "b@a.go.th": "id-b"})
    recorder = LoginRecorder(table, directory.resolve, every=3600, batch=1)  # type: ignore[arg-type]
    table.gate = threading.Event()  # the store hangs
    recorder.start()
    recorder.record("a@a.go.th", "imap", "127.0.0.1")  # wakes the thread, which blocks in the write
    recorder.record("b@a.go.th", "imap", "127.0.0.1")  # returns at once all the same
    assert table.writes == 0
    table.gate.set()
    recorder.stop()
    assert set(table.rows) == {"id-a", "id-b"}


def test_the_auth_policy_service_records_an_imap_success_only(tmp_path: Path) -> None:
    """Dovecot's reports (command=report) as the policy service gets them: a successful
    IMAP or POP3 login is recorded; a failure, a refusal, a ManageSieve login are not."""
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    store.migrate()
    try:
        directory = Directory({f"{u}@moph.go.th": f"id-{u}" for u in ("a", "b", "c", "d", "e")})
        recorder = LoginRecorder(LastLogins(store), directory.resolve, every=3600)
        policy = Policy(create_app(LoginBudget(store, BudgetRules(pair_free=3, pair_base=600, pair_max=600)),
                                   SECRET, recorder))

        def report(login: str, **body: object) -> None:
            answer = policy.post("/?command=report", json={"login": login, "remote": "192.0.2.1", **body})
            assert answer.status_code == 200, answer.text

        report("a@moph.go.th", protocol="imap", success=True)
        report("b@moph.go.th", protocol="pop3", success=True)
        report("c@moph.go.th", protocol="imap", success=False)
        report("d@moph.go.th", protocol="imap", success=False, policy_reject=True)
        report("e@moph.go.th", protocol="sieve", success=True)
        recorder.flush()
        found = LastLogins(store).of([f"id-{u}" for u in "abcde"])
        assert {k: (v.protocol, v.source) for k, v in found.items()} == {
            "id-a": ("imap", "192.0.2.1"), "id-b": ("pop3", "192.0.2.1")}
    finally:
        store.close()
