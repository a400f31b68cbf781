"""Metrics endpoint latency (issue 19: p95 <= 20 ms).

    python -m bench.bench_metrics --data-dir bench/out/metrics [--scrapes 200] [--messages 200]

Starts a stack of its own (free loopback ports, inbound protection off), makes some
traffic (messages through submission, refused recipients at the MX, failed AUTHs, web
page loads), then scrapes the relay's, the web's and Dovecot's endpoints `--scrapes`
times each, interleaved (one of each per round), from one HTTP client as Prometheus
does, and reports p50/p95 per endpoint. Also the relay's text rendered at full size in
this process: inbound protection's outcomes for 434 domains x 7 outcomes, the largest
label set the relay can have.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import socket
import ssl
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from bench.stats import summary_ms
from mailgothai.core.models import Role
from mailgothai.relay.metrics import RelayMetrics
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings
from mailgothai.stack import manager

DOMAIN = "metrics-bench.go.th"
PASSWORD = "Metrics-bench-pass-1"
OUTCOMES = ("reject", "virus", "dmarc_reject", "quarantine", "junk", "greylist", "tempfail")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def traffic(settings: Any, messages: int) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    sender, reader = f"sender@{DOMAIN}", f"reader@{DOMAIN}"
    with smtplib.SMTP(settings.host, settings.submission_port, timeout=60) as client:
        client.starttls(context=context)
        client.login(sender, PASSWORD)
        for n in range(messages):
            body = f"From: <{sender}>\r\nTo: <{reader}>\r\nSubject: {n}\r\n\r\nhi\r\n"
            client.sendmail(sender, [reader], body.encode())
    with smtplib.SMTP(settings.host, settings.smtp_port, timeout=60) as client:
        client.ehlo("mx.remote.test")
        for n in range(10):  # under relay_max_errors_per_connection
            client.mail("someone@remote.test")
            client.rcpt(f"nobody{n}@{DOMAIN}")
            client.rset()
    for _ in range(3):
        with smtplib.SMTP(settings.host, settings.submission_port, timeout=60) as client:
            client.starttls(context=context)
            try:
                client.login(sender, PASSWORD + "-wrong")
            except smtplib.SMTPAuthenticationError:
                pass
    for _ in range(200):
        httpx.get(f"http://{settings.host}:{settings.web_port}/login", timeout=60)


def scrapes(urls: dict[str, str], rounds: int) -> dict[str, dict[str, float]]:
    """One client for all (httpx.get would build an SSL context per call, ~15 ms of the
    client's own); it keeps a connection open where the server allows, as Prometheus does."""
    times: dict[str, list[float]] = {name: [] for name in urls}
    with httpx.Client(timeout=60) as client:
        for _ in range(rounds):
            for name, url in urls.items():
                started = time.perf_counter()
                answer = client.get(url)
                times[name].append(time.perf_counter() - started)
                assert answer.status_code == 200, (name, answer.status_code)
    return {name: summary_ms(t) for name, t in times.items()}


def full_size_render(rounds: int) -> dict[str, Any]:
    """The relay's text with every per-domain series it can hold (434 hosted domains)."""
    metrics = RelayMetrics()
    totals = {(f"agency{n}.go.th", outcome): n + 1 for n in range(434) for outcome in OUTCOMES}
    queue = SimpleNamespace(delivered=1, deferred=1, bounced=1, pending=5, oldest_id=lambda: None)
    tally = SimpleNamespace(totals=lambda: totals)
    metrics.watch(SimpleNamespace(queue=queue, quota=SimpleNamespace(asked=1), gateway=SimpleNamespace(failovers=0),
                                  protection=SimpleNamespace(tally=tally)))  # type: ignore[arg-type]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        text = metrics.text()
        times.append(time.perf_counter() - started)
    return {"series": len(totals), "bytes": len(text), **summary_ms(times)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--messages", type=int, default=200)
    args = ap.parse_args()
    if args.data_dir.exists() and any(args.data_dir.iterdir()):
        raise SystemExit(f"{args.data_dir} is not empty: give a fresh directory")
    base = load_settings(data_dir=args.data_dir, environ={})
    settings = base.replace(protection=0, ldap_port=free_port(), imap_port=free_port(), imaps_port=free_port(),
                            lmtp_port=free_port(), smtp_port=free_port(), submission_port=free_port(),
                            smtps_port=free_port(), auth_policy_port=free_port(), managesieve_port=free_port(),
                            web_port=free_port(), relay_metrics_port=free_port(), dovecot_metrics_port=free_port())
    settings = manager.up(settings).settings
    command = " ".join([Path(sys.executable).name, "-m", "bench.bench_metrics", *sys.argv[1:]])
    results: dict[str, Any] = {"command": command, "load_average_at_start": os.getloadavg()}
    try:
        with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as svc:
            svc.domains.add(DOMAIN)
            for local in ("sender", "reader"):
                svc.accounts.add(f"{local}@{DOMAIN}", PasswordInput(plain=PASSWORD))
        traffic(settings, args.messages)
        results["endpoints"] = scrapes(manager.metrics_urls(settings), args.scrapes)
        results["relay_text_full_size_in_process"] = full_size_render(args.scrapes)
        results["load_average_at_end"] = os.getloadavg()
    finally:
        manager.down(settings)
    (args.data_dir / "metrics-results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
