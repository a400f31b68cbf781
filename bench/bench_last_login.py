"""Last-login figures of issue 17, with the full data set loaded (see load_dataset.py).

    python -m bench.bench_last_login --data-dir bench/out/lastlogin [--rounds 200]

Through the services the web's accounts page calls (ListingService.accounts, then the
page's last logins with LastLoginService.of_many, as web/routes/accounts.py does), on the
largest domain (opm.go.th, 40,228 accounts), of which 30,000 get a last login at a random
time of the past year (the other 10,228 never logged in):
  - the first page of 50 sorted by last login, oldest first (never-logged-in first) and
    newest first, as an operator and as the domain's own admin; a deep page (offset 20,000);
  - in the same rounds, interleaved, the raw components: the page sorted by address (slapd's
    kept sort, the listing as it was) with the same last-login read, the SQL window alone,
    and the directory read of 50 accounts by mailbox id alone; ratios against the first;
  - the writer: a batch of 500 logins matched to accounts (one directory search) and written
    (one transaction); matching the domain's 40,228 accounts with the table (first, and
    again after a change: one paged directory read of mailbox ids and addresses, one diff).
The web and relay of the stack are stopped: the services alone are measured.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.stats import summary_ms, timed
from mailgothai.core.last_login import LastLogin, Owner
from mailgothai.core.models import Role
from mailgothai.directory.login_owners import LoginOwners
from mailgothai.directory.vlv import SortedLister
from mailgothai.errors import NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.last_login import LastLoginService, LoginRecorder
from mailgothai.services.listing import ListingService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings
from mailgothai.stack import manager

LOGGED_IN = 30_000
ADMIN = "bench-lastlogin-admin"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    for service in (manager.WEB, manager.RELAY):
        service.stop(settings)
    rng = random.Random(17)
    results: dict[str, object] = {}
    operator = Actor("bench", Role.SUPERADMIN, origin="bench")
    with Services.open(settings, operator) as svc:
        large = max(svc.domains.list(), key=lambda d: d.account_count)
        results["domain"] = {"name": large.name, "accounts": large.account_count}
        try:
            svc.admins.get(ADMIN)
        except NotFound:
            svc.admins.add(ADMIN, Role.DOMAIN_ADMIN, PasswordInput(plain="Bench-password-1"), domains=(large.name,))
        times = svc.backends.logins
        assert times is not None
        owners = LoginOwners(svc.backends.gateway, svc.backends.layout)

        # The first match of the domain's accounts with the table (rows for the never-logged-in).
        started = time.perf_counter()
        LastLoginService(svc.backends, operator).ensure_synced(svc.domains.get(large.name))
        results["first_match_of_the_domain_s"] = round(time.perf_counter() - started, 2)

        # Matching again after a change (what a page or the warmer pays once per change of the domain).
        resync = []
        for n in range(3):
            started = time.perf_counter()
            times.sync(large.name, owners.of_domain(large.name), f"bench-{n}-{rng.random()}")
            resync.append(time.perf_counter() - started)
        results["match_again_after_a_change"] = summary_ms(resync)

        # 30,000 accounts logged in at some time of the past year, written in batches of 500.
        accounts = owners.of_domain(large.name)
        chosen = rng.sample(sorted(accounts), LOGGED_IN)
        now = datetime.now(UTC)
        batch_times = []
        for start in range(0, len(chosen), 500):
            batch = {i: (Owner(i, accounts[i], large.name),
                         LastLogin(now - timedelta(seconds=rng.randrange(365 * 86400)),
                                   rng.choice(("imap", "smtp", "web")), f"10.{rng.randrange(256)}.0.1"))
                     for i in chosen[start:start + 500]}
            batch_times.append(timed(lambda batch=batch: times.record(batch)))  # type: ignore[misc]
        results["write_500_logins"] = summary_ms(batch_times)

        # The writer as the processes run it: 500 logins by address, matched and written.
        addresses = [accounts[i] for i in chosen]
        recorder = LoginRecorder(times, owners.resolve, every=3600, batch=10**6)
        flushes = []
        for n in range(20):
            for address in addresses[n * 500:(n + 1) * 500]:
                recorder.record(address, "imap", "127.0.0.1")
            flushes.append(timed(recorder.flush))
        results["flush_500_logins_match_and_write"] = summary_ms(flushes)

        lister = SortedLister()
        as_operator = ListingService(svc.backends, operator, lister)
        admin = Actor(ADMIN, Role.DOMAIN_ADMIN, frozenset({large.name}), origin="bench")
        admin_services = Services(svc.backends, admin)
        as_admin = ListingService(admin_services.backends, admin, lister)
        logins_operator = LastLoginService(svc.backends, operator)
        logins_admin = LastLoginService(admin_services.backends, admin)
        app = svc.backends.gateway.as_application()
        raw_owners = LoginOwners(app, svc.backends.layout)

        def page(service: ListingService, logins: LastLoginService, sort: str, desc: bool, offset: int = 0) -> None:
            _, found = service.accounts(large.name, sort=sort, descending=desc, offset=offset, size=50)
            logins.of_many(found.items)

        ids = [r[0] for r in times.page(large.name, False, "", 0, 50)[0]]
        kinds = {
            "last_login_oldest_first": lambda: page(as_operator, logins_operator, "last_login", False),
            "last_login_newest_first": lambda: page(as_operator, logins_operator, "last_login", True),
            "last_login_oldest_first_domain_admin": lambda: page(as_admin, logins_admin, "last_login", False),
            "last_login_deep_page_offset_20000": lambda: page(as_operator, logins_operator, "last_login", False,
                                                              20_000),
            "raw_by_address_first_page": lambda: page(as_operator, logins_operator, "address", False),
            "raw_sql_window_alone": lambda: times.page(large.name, False, "", 0, 50),
            "raw_directory_50_by_mailbox_id": lambda: raw_owners.accounts(large.name, ids),
        }
        for fn in kinds.values():  # warm: the address sort's context, connections
            fn()
        samples: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            order = list(kinds.items())
            rng.shuffle(order)
            for name, fn in order:
                samples[name].append(timed(fn))
        figures = {k: summary_ms(v) for k, v in samples.items()}
        results["pages"] = figures
        base = figures["raw_by_address_first_page"]["p95_ms"]
        results["p95_ratio_to_by_address"] = {
            k: round(figures[k]["p95_ms"] / base, 2) for k in kinds if k.startswith("last_login")}
        lister.close()
    results["rounds"] = args.rounds
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
