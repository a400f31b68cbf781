"""What app passwords (issue 20) cost an IMAP login, measured with bench_logins' own loop.

    .venv/bin/python -m bench.bench_app_password_logins --work bench/out/app-logins --users 100 --apps 3

A fresh stack with the service's real (OWASP) argon2id cost, only slapd and Dovecot (and
the auth policy service) running. Three kinds of login, interleaved in every round, their
order rotated; each right after Dovecot's auth cache was flushed (cold: slapd binds, so
verifies argon2id hashes) and then for `--seconds` again (warm: Dovecot's cache):

- `main`: the main password of accounts with no app password (what every login paid before);
- `main+apps`: the main password of accounts with `--apps` app passwords each;
- `app`: the last-made app password of those accounts.

An app password is one more value of userPassword, after the main one: slapd verifies the
values in order, so `app` pays one argon2id verification per value before its own (the
main password's and the earlier apps'), and a cold `main+apps` login should cost what
`main` does. The ratios to `main` are taken within the run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
from dataclasses import fields
from pathlib import Path

from bench.bench_logins import PASSWORD, Login, free_port, measure
from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.second_factor import UserSecurity
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager

DOMAIN = "apps.bench.go.th"


def accounts(settings: Settings, users: int, apps: int) -> dict[str, list[Login]]:
    plain = [f"plain{n}@{DOMAIN}" for n in range(users)]
    holders = [f"holder{n}@{DOMAIN}" for n in range(users)]
    with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as services:
        services.domains.add(DOMAIN, max_accounts=str(2 * users + 10))
        for user in plain + holders:
            services.accounts.add(user, PasswordInput(plain=PASSWORD))
        last: dict[str, str] = {}
        for user in holders:
            for n in range(apps):
                last[user] = UserSecurity(services.backends, user).create_app_password(f"device {n}", PASSWORD)[1]
    return {"main": [(u, PASSWORD) for u in plain], "main+apps": [(u, PASSWORD) for u in holders],
            "app": [(u, last[u]) for u in holders]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("bench/out/app-logins"))
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--apps", type=int, default=3, help="app passwords per account of the 'main+apps' and 'app' kinds")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    data_dir = args.work.resolve() / "stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    ports = {f.name: free_port() for f in fields(Settings) if f.name.endswith("_port")}
    settings = load_settings(data_dir=data_dir, environ={}).replace(
        **(ports | {"smtps_port": 0}), protection=0, auth_cache_ttl=3600)
    settings = manager.up(settings).settings
    for service in (manager.WEB, manager.RELAY):
        service.stop(settings)
    result: dict[str, object] = {"load_average_at_start": os.getloadavg(), "cpus": os.cpu_count()}
    try:
        kinds = accounts(settings, args.users, args.apps)
        flush = ["doveadm", "-c", str(settings.dovecot_config), "auth", "cache", "flush"]
        names = list(kinds)
        cold: dict[str, list[float]] = {k: [] for k in names}
        warm: dict[str, list[float]] = {k: [] for k in names}
        for n in range(args.rounds):
            for kind in names[n % len(names):] + names[:n % len(names)]:
                subprocess.run(flush, check=True, capture_output=True)
                cold[kind].append(measure(settings, "plain", kinds[kind], args.clients, 0))
                warm[kind].append(measure(settings, "plain", kinds[kind], args.clients, args.seconds))
        result["load_average_at_end"] = os.getloadavg()
        cold_median = {k: round(statistics.median(v), 1) for k, v in cold.items()}
        warm_median = {k: round(statistics.median(v), 1) for k, v in warm.items()}
        result.update({
            "argon2": {"t": settings.argon2_time_cost, "m_kib": settings.argon2_memory_kib,
                       "p": settings.argon2_parallelism},
            "users": args.users, "apps_per_account": args.apps, "clients": args.clients, "rounds": args.rounds,
            "warm_seconds": args.seconds,
            "cold_logins_per_s": {k: [round(x, 1) for x in v] for k, v in cold.items()},
            "warm_logins_per_s": {k: [round(x, 1) for x in v] for k, v in warm.items()},
            "cold_median": cold_median, "warm_median": warm_median,
            "ratio_to_main": {k: {"cold": round(cold_median[k] / cold_median["main"], 3),
                                  "warm": round(warm_median[k] / warm_median["main"], 3)}
                              for k in names if k != "main"},
        })
        print(json.dumps(result))
    finally:
        manager.down(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
