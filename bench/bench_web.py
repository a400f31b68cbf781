"""Admin web figures with the full data set loaded (see load_dataset.py).

    python -m bench.bench_web --data-dir bench/out/webfull [--rounds 100]

Runs the web as production does: `mailgothai serve` in a process of its own (with its
background threads: quota-usage refresher, listing warmer), on a free loopback port.
This process is only the HTTP client: it logs in as an operator and as a domain admin
of the largest domain, and reads the app's own time per request from its Server-Timing
header. The figures are interleaved (one request of each kind per round), so a burst of
load from others on the machine hits them alike. Then it serves 1,000 pages and reads
the server process's VmRSS and VmHWM from /proc/PID/status.

Before the run every account gets a recent usage reading (see steady_usage; skip with
--cold-usage), so the server's background sweep is idle as in a system that has run
for a while, and what is measured is the pages, not the first sweep through Dovecot.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import update

from bench.stats import summary_ms
from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.usage import SnapshotStore
from mailgothai.settings import Settings, load_settings
from mailgothai.store.web_state import QuotaSnapshot

PREFIXES = ("somchai", "malee.", "wan", "supachai.w", "kittisak", "anan.k", "thanawat", "sunee.s", "pr", "สม")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mb(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = round(int(value.split()[0]) / 1024, 1)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steady_usage(settings: Settings) -> int:
    """Usage snapshots as in a system that has run for a while: every account has a
    reading, all recent. Accounts never read get 0 bytes (bench data only). Without this
    the server's first sweep reads all 207,074 accounts from Dovecot during the run
    (doveadm creates each missing Maildir: disk and slapd load that is not the pages').
    Returns how many readings were added."""
    added = 0
    now = datetime.now(UTC)
    with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as svc:
        snapshots = SnapshotStore(svc.backends.store)
        for domain in svc.backends.domains.iter_all():
            emails = [a.email for a in svc.backends.accounts.iter_domain(domain.name)]
            for start in range(0, len(emails), 500):
                chunk = emails[start:start + 500]
                read = snapshots.readings(chunk)
                missing = [e for e in chunk if e not in read]
                snapshots.write({e: 0 for e in missing}, {e: domain.name for e in missing}, now)
                added += len(missing)
        with svc.backends.store.session() as session:
            session.execute(update(QuotaSnapshot).values(read_at=now))
        snapshots.recompute(d.name for d in svc.backends.domains.iter_all())
    return added


def start_server(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    argv = [sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(settings.data_dir.resolve()),
            "serve", "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mailgothai serve exited at start; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("mailgothai serve did not answer within 60 s")


def login(base: str, who: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=120)
    csrf = CSRF.search(http.get("/login").text)
    assert csrf, "no CSRF token on the login page"
    answer = http.post("/login", data={"login": who, "password": password, "csrf_token": csrf.group(1)})
    assert answer.status_code == 303, (who, answer.status_code)
    return http


def server_ms(http: httpx.Client, path: str) -> float:
    """The app's own time for one request (its Server-Timing header), in seconds."""
    answer = http.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return float(answer.headers["server-timing"].split("dur=")[1]) / 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--warm-wait", type=float, default=15.0,
                    help="seconds between the server's start and the first measured request")
    ap.add_argument("--cold-usage", action="store_true",
                    help="leave the usage snapshots as they are (see steady_usage)")
    args = ap.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    added = 0 if args.cold_usage else steady_usage(settings)
    password = "Bench-" + secrets.token_urlsafe(9)
    tag = secrets.token_hex(3)
    operator, domain_admin = f"bench-op-{tag}", f"bench-da-{tag}"
    setup = Actor("bench", Role.SUPERADMIN, origin="bench")
    with Services.open(settings, setup) as svc:
        largest = max(svc.domains.list(), key=lambda d: d.account_count)
        svc.admins.add(operator, Role.SUPERADMIN, PasswordInput(plain=password))
        svc.admins.add(domain_admin, Role.DOMAIN_ADMIN, PasswordInput(plain=password),
                       domains=(largest.name,))
    port = free_port()
    log = settings.data_dir / "log" / "bench-web.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"largest_domain": {"name": largest.name, "accounts": largest.account_count},
                                  "usage_snapshots": "as found" if args.cold_usage else f"steady ({added} added)",
                                  "load_average_at_start": os.getloadavg()}
    server = start_server(settings, port, log)
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(3)
    accounts = f"/domains/{largest.name}/accounts"
    deep = (largest.account_count // 2) // 50 * 50
    try:
        time.sleep(args.warm_wait)  # the listing warmer's first round
        op, da = login(base, operator, password), login(base, domain_admin, password)
        results["first_click_ms"] = {
            "domain_admin_accounts": round(server_ms(da, accounts) * 1000, 1),
            "operator_accounts": round(server_ms(op, accounts) * 1000, 1),
            "domain_admin_by_name_not_kept_warm": round(server_ms(da, accounts + "?sort=name") * 1000, 1),
        }
        figures = {
            "accounts_first_page": (op, accounts),
            "accounts_deep_page": (op, f"{accounts}?offset={deep}"),
            "accounts_first_page_domain_admin": (da, accounts),
            "accounts_deep_page_domain_admin": (da, f"{accounts}?offset={deep}"),
            "accounts_deep_page_by_name": (op, f"{accounts}?sort=name&offset={deep}"),
            "dashboard": (op, "/"),
        }
        samples: dict[str, list[float]] = {label: [] for label in (*figures, "search_all_domains")}
        cpu_before, started = cpu_seconds(server.pid), time.monotonic()
        for _ in range(args.rounds):
            for label, (http, path) in figures.items():
                samples[label].append(server_ms(http, path))
            samples["search_all_domains"].append(server_ms(op, f"/search?q={rng.choice(PREFIXES)}"))
        requests = args.rounds * len(samples)
        spent = cpu_seconds(server.pid) - cpu_before
        results["server_cpu_ms_per_request"] = round(spent / requests * 1000, 2)
        results["server_cpu_note"] = (f"CPU of the whole server process (background threads included) over "
                                      f"{requests} requests in {time.monotonic() - started:.0f} s")
        for label, values in samples.items():
            results[label] = summary_ms(values)
        paths = [lambda: f"{accounts}?offset={rng.randrange(0, largest.account_count, 50)}",
                 lambda: "/", lambda: "/domains", lambda: f"/search?q={rng.choice(PREFIXES)}"]
        for i in range(1000):
            (op if i % 2 else da).get(paths[i % len(paths)]())
        results["server_memory_mb_after_1000_pages"] = memory_mb(server.pid)
        results["load_average_at_end"] = os.getloadavg()
        op.close()
        da.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        with Services.open(settings, setup) as svc:
            svc.admins.delete(operator)
            svc.admins.delete(domain_admin)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
