"""Quota usage costs Dovecot one batched doveadm call per batch, never one per account.

The Doveadm adapter is wrapped to count the doveadm processes it starts (and the users
each one is asked about); Dovecot itself is the real one of the session's stack."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.core.passwords import Argon2Params, hash_password
from mailgothai.errors import NotFound
from mailgothai.mailstore.doveadm import Doveadm
from mailgothai.services.actor import Actor
from mailgothai.services.auth import utcnow
from mailgothai.services.backends import Backends
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.usage import UsageRefresher, UsageService
from mailgothai.settings import Settings
from tests.conftest import Cli
from tests.web.conftest import Client, Live, World

pytestmark = pytest.mark.sql

ACCOUNTS = 130
OPERATOR = Actor("test-operator", Role.SUPERADMIN, origin="test")


class CountingDoveadm(Doveadm):
    """The real adapter, recording each doveadm process it starts and the users it names."""

    def __init__(self, config: Path) -> None:
        super().__init__(config)
        self.calls: list[list[str]] = []

    def _run(self, *args: str) -> str:
        users: list[str] = []
        if "-F" in args:
            users = Path(args[args.index("-F") + 1]).read_text(encoding="utf-8").split()
        elif "-u" in args:
            users = [args[args.index("-u") + 1]]
        self.calls.append(users)
        return super()._run(*args)


@pytest.fixture(scope="module")
def big_domain(web_settings: Settings) -> str:
    """A domain of 130 accounts (more than a page, and more than a small batch)."""
    name = f"big{uuid.uuid4().hex[:8]}.go.th"
    stored = hash_password("Usage-test-pass-1", Argon2Params(1, 1024, 1))
    with Services.open(web_settings, OPERATOR) as svc:
        svc.domains.add(name, description="usage")
        for i in range(ACCOUNTS):
            svc.accounts.add(f"staff{i:03d}@{name}", PasswordInput(stored_hash=stored), given_name=f"พนักงาน{i}")
    return name


def emails(domain: str) -> set[str]:
    return {f"staff{i:03d}@{domain}" for i in range(ACCOUNTS)}


@pytest.fixture
def counting(live: Live) -> Iterator[CountingDoveadm]:
    backends: Backends = live.state.backends
    real = backends.doveadm
    backends.doveadm = CountingDoveadm(live.settings.dovecot_config)
    try:
        yield backends.doveadm  # type: ignore[misc]
    finally:
        backends.doveadm = real


def test_a_page_of_50_costs_dovecot_one_batched_call(client: Client, live: Live, world: World, big_domain: str,
                                                     counting: CountingDoveadm) -> None:
    client.login_admin(world.operator)
    refresher = live.state.refresher
    for offset in (0, 50):
        page = client.get(f"/domains/{big_domain}/accounts?offset={offset}")
        assert page.status_code == 200
        shown = {f"staff{i:03d}@{big_domain}" for i in range(offset, offset + 50)}
        assert all(email in page.text for email in shown)
        assert counting.calls == [], "showing a page must not ask Dovecot at all"
        assert refresher.run_once() >= 50  # the page's stale accounts, queued by the view
        assert len(counting.calls) == 1, "one doveadm process for the whole page"
        assert shown <= set(counting.calls[0]) and len(counting.calls[0]) <= refresher.batch
        counting.calls.clear()
        again = client.get(f"/domains/{big_domain}/accounts?offset={offset}")
        assert "not read yet" not in again.text  # the readings are shown, with their time
        assert counting.calls == []


def test_refreshing_a_domain_costs_one_call_per_batch(web_settings: Settings, big_domain: str) -> None:
    with Services.open(web_settings, OPERATOR) as svc:
        counting = CountingDoveadm(web_settings.dovecot_config)
        svc.backends.doveadm = counting
        refresher = UsageRefresher(svc.backends, web_settings.quota_snapshot_ttl, sweep=False, batch=50)
        done = UsageService(svc.backends, OPERATOR, refresher).refresh(big_domain)
        assert (done.domains, done.accounts, done.read, done.doveadm_calls) == (1, ACCOUNTS, ACCOUNTS, 3)
        assert [len(users) for users in counting.calls] == [50, 50, 30]
        assert set().union(*counting.calls) == emails(big_domain)
        total = refresher.snapshots.totals([big_domain])[big_domain]
        assert total.accounts_read == ACCOUNTS and total.newest_read_at is not None

        outsider = Actor("da-other", Role.DOMAIN_ADMIN, frozenset({"elsewhere.go.th"}), origin="test")
        with pytest.raises(NotFound):
            UsageService(svc.backends.acting_for("da-other"), outsider, refresher).refresh(big_domain)
        assert len(counting.calls) == 3


def test_usage_refresh_command(cli: Cli, big_domain: str, web_settings: Settings) -> None:
    with Services.open(web_settings, OPERATOR) as svc:
        before = UsageRefresher(svc.backends, 900, sweep=False).snapshots.totals([big_domain]).get(big_domain)
    done = cli("usage", "refresh", "--domain", big_domain, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["accounts"], result["read"], result["doveadm_calls"]) == (ACCOUNTS, ACCOUNTS, 1)
    with Services.open(web_settings, OPERATOR) as svc:
        after = UsageRefresher(svc.backends, 900, sweep=False).snapshots.totals([big_domain])[big_domain]
    assert after.accounts_read == ACCOUNTS
    assert before is None or before.newest_read_at is None or after.newest_read_at >= before.newest_read_at

    plain = cli("usage", "refresh", "--domain", big_domain)
    assert plain.returncode == 0 and f"{ACCOUNTS} of {ACCOUNTS} account(s) in 1 domain(s)" in plain.stdout
    missing = cli("usage", "refresh", "--domain", f"none{uuid.uuid4().hex[:6]}.go.th")
    assert missing.returncode == 1 and "not found" in missing.stderr
    bad = cli("usage", "refresh", "--domain", "bad name.go.th")
    assert bad.returncode == 2 and "domain:" in bad.stderr


def sweep_pass(refresher: UsageRefresher, domain: str, listed: Counter[str]) -> None:
    """Run the refresher until its sweep has gone past `domain` (bounded by what a whole
    sweep of the session's directory takes: a step per domain and per batch of accounts,
    twice over; the session's other tests leave hundreds of domains behind)."""
    start = listed[domain]
    steps = sum(2 + d.account_count // refresher.batch for d in refresher.b.domains.iter_all())
    for _ in range(2 * steps + 50):
        refresher.run_once()
        if listed[domain] > start and not refresher._sweep_pending:
            return
    raise AssertionError(f"the sweep never reached {domain}")


def test_the_sweep_lists_a_domain_once_and_rereads_only_old_readings(web_settings: Settings) -> None:
    name = f"sweep{uuid.uuid4().hex[:8]}.go.th"
    stored = hash_password("Usage-test-pass-1", Argon2Params(1, 1024, 1))
    with Services.open(web_settings, OPERATOR) as svc:
        svc.domains.add(name, description="sweep")
        for i in range(120):
            svc.accounts.add(f"staff{i:03d}@{name}", PasswordInput(stored_hash=stored))
        b = svc.backends
        counting = CountingDoveadm(web_settings.dovecot_config)
        b.doveadm = counting
        listed: Counter[str] = Counter()
        iter_domain = b.accounts.iter_domain

        def counted(domain: str, *args, **kwargs):  # type: ignore[no-untyped-def]
            listed[domain] += 1
            return iter_domain(domain, *args, **kwargs)

        b.accounts.iter_domain = counted  # type: ignore[method-assign]
        ours = {f"staff{i:03d}@{name}" for i in range(120)}

        def calls_for_ours() -> list[int]:
            return [len(ours & set(users)) for users in counting.calls if ours & set(users)]

        now = utcnow()
        sweep_pass(UsageRefresher(b, 900, clock=lambda: now, batch=50), name, listed)
        assert listed[name] == 1, "listed once for the whole pass, not once per batch"
        assert calls_for_ours() == [50, 50, 20]

        counting.calls.clear()
        later = now + timedelta(hours=1)  # stale for a page (15 min), not for the sweep (6 h)
        sweep_pass(UsageRefresher(b, 900, clock=lambda: later, batch=50), name, listed)
        assert calls_for_ours() == []
        much_later = now + timedelta(hours=7)
        sweep_pass(UsageRefresher(b, 900, clock=lambda: much_later, batch=50), name, listed)
        assert calls_for_ours() == [50, 50, 20]
