"""Relay figures of issue 5, measured in one run beside the raw components.

    python -m bench.bench_relay --data-dir bench/out/relay [--messages 2000] [--concurrency 4]
        [--mailboxes 8] [--quota-grant-bytes N]

Starts a private stack (slapd, Dovecot, relay) in DATA_DIR on free loopback ports, makes
a domain with an RSA-2048 DKIM key, a sender and --mailboxes mailboxes (messages go to
them in turn; with more than 8, each first gets one message over LMTP so that no measured
delivery creates a mailbox), then measures with 10 KB messages:
  1. DKIM RSA-2048 (and ed25519) signing in this process, one core: messages/s;
  2. raw LMTP delivery into the same Dovecot, C pipelined connections: delivered/s;
  3. end to end: C submission clients (STARTTLS + AUTH once per connection) → policy →
     DKIM RSA-2048 → fsynced spool → LMTP (relay's pool): delivered/s (counted in the
     Maildirs), the relay's CPU ms per message, and the ratio to raw LMTP (2 is measured
     before and after 3; their mean is the reference);
  4. an offered 100 messages/s for --paced-seconds over --paced-connections open
     submission connections: time from the end of the data to the 250 (p50/p99), and
     how many sends found every connection busy; then the relay's peak RSS.
Writes DATA_DIR/relay-results.json and prints the figures. Stops the stack at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiosmtplib

from bench.stats import summary_ms
from mailgothai.core.models import Role
from mailgothai.core.passwords import Argon2Params, hash_password
from mailgothai.dkim.keys import generate
from mailgothai.dkim.signer import SigningKey, sign
from mailgothai.relay.lmtp import LmtpConnection
from mailgothai.running_relay import notify_relay
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager

DOMAIN = "bench-relay.go.th"
PASSWORD = "Bench-relay-pass-1"
READERS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ten_kb_message(sender: str, rcpt: str) -> bytes:
    head = (f"From: Bench <{sender}>\r\nTo: <{rcpt}>\r\nSubject: bench {uuid.uuid4().hex[:8]}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@bench>\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    line = ("สวัสดี benchmark line " + "x" * 40)[:60] + "\r\n"
    body = (line * (10_240 // len(line.encode())))
    return (head + body).encode("utf-8")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(parts) if i not in (3, 4))  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def cpu_by_process(labels: dict[int, str]) -> dict[tuple[int, str], float]:
    """CPU seconds of every process now, keyed by (pid, label): the label given for the pid,
    else its title (Dovecot's processes name themselves, e.g. `dovecot-…/lmtp`)."""
    out: dict[tuple[int, str], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            seconds = cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        label = labels.get(pid) or title.rpartition("/")[2] or title
        out[(pid, label)] = seconds
    return out


def cpu_breakdown(before: dict[tuple[int, str], float], after: dict[tuple[int, str], float],
                  count: int) -> dict[str, float]:
    """ms of CPU per message by process label, over what ran in between (busiest first)."""
    spent: dict[str, float] = {}
    for key, seconds in after.items():
        spent[key[1]] = spent.get(key[1], 0.0) + seconds - before.get(key, 0.0)
    return {k: round(v / count * 1000, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v > 0.005}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


MAILDIRS: dict[str, Path] = {}  # address -> its Maildir (mailboxes live under their id)


def delivered_count(settings: Settings, readers: list[str]) -> int:
    total = 0
    for r in readers:
        for d in (MAILDIRS[r] / "new", MAILDIRS[r] / "cur"):
            try:
                total += len(os.listdir(d))
            except FileNotFoundError:
                pass
    return total


# ---- 1. DKIM signing -----------------------------------------------------------------
def bench_signing(count: int) -> dict[str, float]:
    msg = ten_kb_message(f"a@{DOMAIN}", f"b@{DOMAIN}")
    out: dict[str, float] = {}
    for algorithm in ("rsa", "ed25519"):
        key = SigningKey(DOMAIN, "bench", algorithm, generate(algorithm).load())
        started = time.process_time()
        wall = time.perf_counter()
        for _ in range(count):
            sign(msg, [key])
        cpu = time.process_time() - started
        out[f"{algorithm}_per_s_wall"] = round(count / (time.perf_counter() - wall), 1)
        out[f"{algorithm}_per_cpu_second"] = round(count / cpu, 1)  # what one core does
        out[f"{algorithm}_cpu_ms"] = round(cpu / count * 1000, 3)
    return out


# ---- 2. raw LMTP ---------------------------------------------------------------------------
async def raw_lmtp(settings: Settings, readers: list[str], count: int, concurrency: int) -> dict[str, float]:
    msgs = [ten_kb_message("raw@elsewhere.example", readers[n % len(readers)]) for n in range(count)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        conn = await LmtpConnection.open(settings.host, settings.lmtp_port, "bench", 60)
        while not queue.empty():
            n = queue.get_nowait()
            rcpt = readers[n % len(readers)]
            result = await conn.deliver("raw@elsewhere.example", [rcpt], msgs[n], 60)
            assert result[rcpt].code == 250, result
        conn.close()

    labels = {os.getpid(): "bench client (LMTP)"}
    procs0 = cpu_by_process(labels)
    cpu0, wall0 = machine_cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall0
    return {"messages": count, "seconds": round(wall, 2), "per_s": round(count / wall, 1),
            "machine_cpu_ms_per_msg": round((machine_cpu_seconds() - cpu0) / count * 1000, 2),
            "cpu_ms_per_msg_by_process": cpu_breakdown(procs0, cpu_by_process(labels), count)}


# ---- 3. end to end ----------------------------------------------------------------------------
def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def submit_client(settings: Settings, sender: str) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(hostname=settings.host, port=settings.submission_port, start_tls=True,
                             tls_context=tls_context(), timeout=60)
    await client.connect()
    await client.login(sender, PASSWORD)
    return client


async def end_to_end(settings: Settings, sender: str, readers: list[str], count: int,
                     concurrency: int, relay_pid: int) -> dict[str, float]:
    msgs = [ten_kb_message(sender, readers[n % len(readers)]) for n in range(count)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    before = delivered_count(settings, readers)

    async def worker() -> None:
        client = await submit_client(settings, sender)
        while not queue.empty():
            n = queue.get_nowait()
            errors, _ = await client.sendmail(sender, [readers[n % len(readers)]], msgs[n])
            assert not errors, errors
        await client.quit()

    labels = {relay_pid: "relay", os.getpid(): "bench clients (aiosmtplib, TLS)"}
    procs0 = cpu_by_process(labels)
    relay0, cpu0, wall0 = cpu_seconds(relay_pid), machine_cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    accepted_at = time.perf_counter() - wall0
    while delivered_count(settings, readers) - before < count:
        await asyncio.sleep(0.01)
    wall = time.perf_counter() - wall0
    return {"messages": count, "seconds": round(wall, 2), "per_s": round(count / wall, 1),
            "accepted_per_s": round(count / accepted_at, 1),
            "relay_cpu_ms_per_msg": round((cpu_seconds(relay_pid) - relay0) / count * 1000, 2),
            "machine_cpu_ms_per_msg": round((machine_cpu_seconds() - cpu0) / count * 1000, 2),
            "cpu_ms_per_msg_by_process": cpu_breakdown(procs0, cpu_by_process(labels), count)}


# ---- 4. latency at an offered rate ------------------------------------------------------------
async def paced(settings: Settings, sender: str, readers: list[str], rate: float, seconds: float,
                connections: int) -> dict[str, float]:
    total = int(rate * seconds)
    clients = [await submit_client(settings, sender) for _ in range(connections)]
    free: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    for c in clients:
        free.put_nowait(c)
    latencies: list[float] = []
    late = 0

    async def one(n: int) -> None:
        nonlocal late
        if free.empty():
            late += 1  # every connection busy: the offered rate was not kept up
        client = await free.get()
        rcpt = readers[n % len(readers)]
        msg = ten_kb_message(sender, rcpt)
        await client.mail(sender)
        await client.rcpt(rcpt)
        started = time.perf_counter()
        await client.data(msg)  # sends DATA, the message and its final dot; returns at the 250
        latencies.append(time.perf_counter() - started)
        free.put_nowait(client)

    tasks = []
    start = time.perf_counter()
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    for c in clients:
        await c.quit()
    return {"offered_per_s": rate, "messages": total, "waited_for_a_connection": late,
            **summary_ms(latencies)}


# ---- the run ---------------------------------------------------------------------------------
def wait_reload(settings: Settings) -> None:
    log_file = manager.RELAY.log_file(settings)
    before = log_file.read_text(errors="replace").count("reloaded on request")
    notify_relay(settings)
    deadline = time.monotonic() + 30
    while log_file.read_text(errors="replace").count("reloaded on request") <= before:
        if time.monotonic() > deadline:
            raise SystemExit("the relay did not reload its DKIM keys")
        time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--sign-count", type=int, default=2000)
    ap.add_argument("--paced-seconds", type=float, default=20)
    ap.add_argument("--paced-connections", type=int, default=32)
    ap.add_argument("--mailboxes", type=int, default=READERS)
    ap.add_argument("--quota-grant-bytes", type=int, default=None,
                    help="the relay's relay_quota_grant_bytes (default: the settings' default; 0 = ask every time)")
    args = ap.parse_args()
    if args.data_dir.exists() and any(args.data_dir.iterdir()):
        raise SystemExit(f"{args.data_dir} is not empty: give a fresh directory")
    base = load_settings(data_dir=args.data_dir, environ={})
    # Every client here comes from 127.0.0.1: the per-address command bucket stays on (its
    # cost is in the figures) but is made large enough never to refuse the bench.
    settings = base.replace(protection=0,  # measured without inbound protection (issue 18), as before
                            ldap_port=free_port(), imap_port=free_port(), imaps_port=free_port(), lmtp_port=free_port(),
                            smtp_port=free_port(), submission_port=free_port(), smtps_port=free_port(),
                            auth_policy_port=free_port(), managesieve_port=free_port(),
                            relay_command_rate_per_ip=1_000_000, relay_command_burst_per_ip=1_000_000)
    if args.quota_grant_bytes is not None:
        settings = settings.replace(relay_quota_grant_bytes=args.quota_grant_bytes)
    settings = manager.up(settings).settings
    command = " ".join([Path(sys.executable).name, "-m", "bench.bench_relay", *sys.argv[1:]])
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg(), "command": command}
    try:
        actor = Actor("bench", Role.SUPERADMIN, origin="bench")
        with Services.open(settings, actor) as svc:
            svc.domains.add(DOMAIN, hourly_send_limit=10_000_000, default_quota="10G")
            sender = f"sender@{DOMAIN}"
            svc.accounts.add(sender, PasswordInput(plain=PASSWORD))
            readers = [f"reader{n}@{DOMAIN}" for n in range(args.mailboxes)]
            reader_hash = hash_password(PASSWORD, Argon2Params.from_settings(settings))
            for r in readers:
                svc.accounts.add(r, PasswordInput(stored_hash=reader_hash))
                MAILDIRS[r] = svc.backends.mailboxes.maildir(svc.accounts.get(r).mailbox_id)
            svc.dkim.generate(DOMAIN, "rsa")
        wait_reload(settings)
        relay_pid = manager.RELAY.status(settings).pid
        assert relay_pid is not None

        results["mailboxes"] = len(readers)
        results["relay_quota_grant_bytes"] = settings.relay_quota_grant_bytes
        if len(readers) > READERS:  # every mailbox exists before anything is measured
            asyncio.run(raw_lmtp(settings, readers, len(readers), args.concurrency))
        results["dkim_signing_one_core"] = bench_signing(args.sign_count)
        asyncio.run(end_to_end(settings, sender, readers, 200, args.concurrency, relay_pid))  # warm-up
        raw_before = asyncio.run(raw_lmtp(settings, readers, args.messages, args.concurrency))
        e2e = asyncio.run(end_to_end(settings, sender, readers, args.messages, args.concurrency, relay_pid))
        raw_after = asyncio.run(raw_lmtp(settings, readers, args.messages, args.concurrency))
        raw_mean = (raw_before["per_s"] + raw_after["per_s"]) / 2
        results["raw_lmtp"] = {"before": raw_before, "after": raw_after, "mean_per_s": round(raw_mean, 1)}
        results["end_to_end"] = {**e2e, "ratio_to_raw_lmtp": round(e2e["per_s"] / raw_mean, 3)}
        results["paced_100_per_s"] = asyncio.run(
            paced(settings, sender, readers, 100.0, args.paced_seconds, connections=args.paced_connections))
        results["relay_peak_rss_mb"] = round(peak_rss_mb(relay_pid), 1)
        submitted = [f.read_bytes() for f in (MAILDIRS[readers[0]] / "new").iterdir()]
        submitted = [m for m in submitted if b"Return-Path: <sender@" in m]
        results["delivered_via_relay_all_signed"] = bool(submitted) and all(
            b"DKIM-Signature: v=1; a=rsa-sha256" in m for m in submitted)
        results["load_average_at_end"] = os.getloadavg()
    finally:
        manager.down(settings)
    out = args.data_dir / "relay-results.json"
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
