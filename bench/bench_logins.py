"""IMAP logins per second through one Dovecot node against the directory.

    .venv/bin/python -m bench.bench_logins --work bench/out/logins --users 200 --clients 4 --seconds 20

A fresh stack with the service's real (OWASP) argon2id cost; `--users` accounts, each
logging in (LOGIN, SELECT INBOX, LOGOUT) from `--clients` parallel processes. Two
figures: every login a different user (Dovecot's auth cache cold: slapd verifies the
argon2id hash each time) and the same users again within the cache TTL (warm).
For the capacity plan in deploy/CAPACITY.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import socket
import time
from pathlib import Path

from imapclient import IMAPClient

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings
from mailgothai.stack import manager

PASSWORD = "Bench-login-pass-1"
DOMAIN = "logins.bench.go.th"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login_loop(args: tuple[str, int, list[str], float]) -> int:
    """Log the users in one after another; seconds=0: exactly once each, else until time is up."""
    host, port, users, seconds = args
    done = 0
    deadline = time.monotonic() + seconds
    while True:
        for user in users:
            with IMAPClient(host, port=port, ssl=False, timeout=30) as client:
                client.login(user, PASSWORD)
                client.select_folder("INBOX")
                client.logout()
            done += 1
            if seconds and time.monotonic() >= deadline:
                return done
        if not seconds:
            return done


def measure(host: str, port: int, users: list[str], clients: int, seconds: float) -> float:
    shares = [users[i::clients] for i in range(clients)]
    started = time.monotonic()
    with multiprocessing.Pool(clients) as pool:
        total = sum(pool.map(login_loop, [(host, port, share, seconds) for share in shares]))
    return total / (time.monotonic() - started)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("bench/out/logins"))
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--imap-upgrade-hashes", type=int, choices=(0, 1), default=1,
                    help="0: without Dovecot's post-login script (the setting imap_upgrade_hashes)")
    args = ap.parse_args()
    data_dir = args.work.resolve() / "stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = load_settings(data_dir=data_dir, environ={}).replace(
        ldap_port=free_port(), imap_port=free_port(), lmtp_port=free_port(), smtp_port=free_port(),
        submission_port=free_port(), smtps_port=0, web_port=free_port(), auth_cache_ttl=3600,
        imap_upgrade_hashes=args.imap_upgrade_hashes)
    settings = manager.up(settings).settings
    for service in (manager.WEB, manager.RELAY):  # only slapd and Dovecot take part
        service.stop(settings)
    try:
        users = [f"user{n}@{DOMAIN}" for n in range(args.users)]
        with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as services:
            services.domains.add(DOMAIN)
            for user in users:
                services.accounts.add(user, PasswordInput(plain=PASSWORD))
        # Cold: each user's first login in this Dovecot (one pass over distinct users).
        cold = measure(settings.host, settings.imap_port, users, args.clients, 0)
        warm = measure(settings.host, settings.imap_port, users, args.clients, args.seconds)
        print(json.dumps({
            "argon2": {"t": settings.argon2_time_cost, "m_kib": settings.argon2_memory_kib,
                       "p": settings.argon2_parallelism},
            "clients": args.clients, "users": args.users, "imap_upgrade_hashes": settings.imap_upgrade_hashes,
            "logins_per_s_cold_cache": round(cold, 1), "logins_per_s_warm_cache": round(warm, 1),
        }))
    finally:
        manager.down(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
