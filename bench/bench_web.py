"""Admin web figures with the full data set loaded (see load_dataset.py).

    python -m bench.bench_web --data-dir bench/out/webfull [--rounds 100]

Serves the app with uvicorn on a free loopback port (in a thread of this process),
logs in as an operator over HTTP, and measures the app's own time per request (its
Server-Timing header) for: the first and a deep page of 50 accounts of the largest
domain, search across all domains, the dashboard. Then serves 1,000 pages and reports
the process's RSS.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from bench.stats import summary_ms
from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings
from mailgothai.web.app import create_app

PREFIXES = ("somchai", "malee.", "wan", "supachai.w", "kittisak", "anan.k", "thanawat", "sunee.s", "pr", "สม")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    password = "Bench-" + secrets.token_urlsafe(9)
    login = f"bench-{secrets.token_hex(3)}"
    with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as svc:
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=password))
        largest = max(svc.domains.list(), key=lambda d: d.account_count)
    app = create_app(settings, background=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    results: dict[str, object] = {"largest_domain": {"name": largest.name, "accounts": largest.account_count}}
    rng = random.Random(3)
    try:
        with httpx.Client(base_url=base, timeout=120) as http:
            page = http.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            assert http.post("/login", data={"login": login, "password": password, "csrf_token": csrf}).status_code == 303

            def server_time(path: str) -> float:
                r = http.get(path)
                assert r.status_code == 200, (path, r.status_code)
                return float(r.headers["server-timing"].split("dur=")[1]) / 1000

            deep = (largest.account_count // 2) // 50 * 50
            cold = {"first": server_time(f"/domains/{largest.name}/accounts"),
                    "name_sort_first": server_time(f"/domains/{largest.name}/accounts?sort=name")}
            results["cold_sort_ms"] = {k: round(v * 1000, 1) for k, v in cold.items()}
            for label, path in (("accounts_first_page", f"/domains/{largest.name}/accounts"),
                                ("accounts_deep_page", f"/domains/{largest.name}/accounts?offset={deep}"),
                                ("accounts_deep_page_by_name", f"/domains/{largest.name}/accounts?sort=name&offset={deep}"),
                                ("dashboard", "/")):
                results[label] = summary_ms([server_time(path) for _ in range(args.rounds)])
            results["search_all_domains"] = summary_ms(
                [server_time(f"/search?q={rng.choice(PREFIXES)}") for _ in range(args.rounds)])
            paths = [f"/domains/{largest.name}/accounts?offset={rng.randrange(0, largest.account_count, 50)}",
                     "/", "/domains", f"/search?q={rng.choice(PREFIXES)}"]
            for i in range(1000):
                http.get(paths[i % len(paths)] if i % 4 else
                         f"/domains/{largest.name}/accounts?offset={rng.randrange(0, largest.account_count, 50)}")
            results["rss_mb_after_1000_pages"] = round(rss_mb(), 1)
            results["rss_note"] = "RSS of this whole process: the app, uvicorn and the benchmark client together"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.web.close()
        with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as svc:
            svc.admins.delete(login)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
