"""Issue 17: raw LMTP delivery into mailboxes with an active Sieve script and an
out-of-office reply, against the same delivery into mailboxes without, in one run.

    python -m bench.bench_sieve --data-dir bench/out/sieve [--rounds 3] [--messages 1500]
        [--mailboxes 30] [--senders 4] [--concurrency 4]

Starts a private stack (slapd, Dovecot, relay) in DATA_DIR on free loopback ports, with
the relay's remote delivery going to an SMTP sink in this process (so the replies really
leave), and a domain with an RSA-2048 DKIM key. Then, --rounds times, interleaved (plain,
sieve; then sieve, plain; ...), each phase with FRESH mailboxes (STACK-NOTES,
"Benchmarking delivery": Dovecot slows as mailboxes fill, whatever is emptied):
  - plain: --mailboxes new accounts, nothing set;
  - sieve: --mailboxes new accounts, each with an active user script of five filter rules
    (as the web writes them: sender/subject contains → folder, forward, discard; none
    matching the bench's mail) and an out-of-office reply (services/vacation.py);
each phase first delivers one message from each of --senders outside senders to each
mailbox ("first contact": in the sieve phase each of these gets an out-of-office reply,
which Dovecot hands to the relay while the delivery waits: a file dropped into the relay's
pickup directory, relay/sieve_pickup.py, which the relay sends afterwards; the replies are
counted at the sink once the phase is over), then
--messages 10 KB messages from the same senders ("steady state": every sender was
answered within the period, so Sieve runs the rules and the reply's once-per-period check
and sends nothing), both over --concurrency pipelined LMTP connections, spread over the
phase's mailboxes. Counts: delivered/s of both parts per phase, the replies the sink
received, and the ratio of the sieve medians to the plain medians (target ≥ 0.8 for the
steady state); the first contact's difference gives the cost of one reply. Writes
DATA_DIR/sieve-results.json and prints it. Stops the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailgothai.core.models import Role
from mailgothai.core.passwords import Argon2Params, hash_password
from mailgothai.core.sieve_filters import SCRIPT_NAME, check_rules, compile_rules
from mailgothai.relay.lmtp import LmtpConnection
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager

DOMAIN = "bench-sieve.go.th"
PASSWORD = "Bench-sieve-pass-1"
RULES = [
    {"field": "sender", "contains": "newsletter@", "action": "move", "folder": "ข่าวสาร"},
    {"field": "subject", "contains": "[ประชุม]", "action": "move", "folder": "งาน/ประชุม"},
    {"field": "subject", "contains": "invoice", "action": "forward", "address": f"finance@{DOMAIN}"},
    {"field": "sender", "contains": "spam.example", "action": "discard"},
    {"field": "subject", "contains": "ลาป่วย", "action": "move", "folder": "บุคคล"},
]
VACATION_SUBJECT = "ไม่อยู่ที่สำนักงาน / Out of office"
VACATION_TEXT = "ขณะนี้ไม่อยู่ที่สำนักงาน จะตอบกลับเมื่อกลับมา\nI am out of the office.\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    """The rest of the Internet: takes every reply the relay sends out."""

    def __init__(self) -> None:
        self.received = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received += 1
        return "250 2.0.0 taken"


def ten_kb_message(sender: str, rcpt: str) -> bytes:
    head = (f"From: Partner <{sender}>\r\nTo: <{rcpt}>\r\nSubject: bench {uuid.uuid4().hex[:8]}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@bench>\r\nDate: Wed, 25 Nov 2026 08:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    line = ("สวัสดี benchmark line " + "x" * 40)[:60] + "\r\n"
    return (head + line * (10_240 // len(line.encode()))).encode("utf-8")


async def deliver(settings: Settings, mailboxes: list[str], senders: list[str], count: int,
                  concurrency: int) -> dict[str, float]:
    """`count` messages, to each mailbox in turn, from each sender in turn (the first
    len(mailboxes) × len(senders) are one from each sender to each mailbox)."""
    pairs = [(senders[(n // len(mailboxes)) % len(senders)], mailboxes[n % len(mailboxes)]) for n in range(count)]
    msgs = [ten_kb_message(s, r) for s, r in pairs]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        conn = await LmtpConnection.open(settings.host, settings.lmtp_port, "bench", 120)
        while not queue.empty():
            n = queue.get_nowait()
            sender, rcpt = pairs[n]
            result = await conn.deliver(sender, [rcpt], msgs[n], 120)
            assert result[rcpt].code == 250, result
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {"messages": count, "seconds": round(wall, 2), "per_s": round(count / wall, 1)}


def new_mailboxes(svc: Services, tag: str, count: int, stored_hash: str) -> list[str]:
    out = [f"{tag}-{n}@{DOMAIN}" for n in range(count)]
    for email in out:
        svc.accounts.add(email, PasswordInput(stored_hash=stored_hash))
    return out


def give_sieve(svc: Services, mailboxes: list[str]) -> None:
    scripts = svc.backends.sieve_scripts
    assert scripts is not None
    text = compile_rules(check_rules(RULES))
    for email in mailboxes:
        scripts.put(email, SCRIPT_NAME, text)
        scripts.activate(email, SCRIPT_NAME)
        svc.vacation.set(email, subject=VACATION_SUBJECT, message=VACATION_TEXT)


def wait_for_replies(sink: Sink, expected: int, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while sink.received < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return sink.received


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--mailboxes", type=int, default=30)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    if args.data_dir.exists() and any(args.data_dir.iterdir()):
        raise SystemExit(f"{args.data_dir} is not empty: give a fresh directory")
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    base = load_settings(data_dir=args.data_dir, environ={})
    settings = base.replace(protection=0,  # measured without inbound protection (issue 18), as before
                            ldap_port=free_port(), imap_port=free_port(), imaps_port=free_port(), lmtp_port=free_port(),
                            smtp_port=free_port(), submission_port=free_port(), smtps_port=free_port(),
                            web_port=free_port(), auth_policy_port=free_port(), managesieve_port=free_port(),
                            relay_smarthost=f"127.0.0.1:{controller.port}",
                            relay_command_rate_per_ip=1_000_000, relay_command_burst_per_ip=1_000_000)
    settings = manager.up(settings).settings
    command = " ".join([Path(sys.executable).name, "-m", "bench.bench_sieve", *sys.argv[1:]])
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg(), "command": command,
                               "messages_per_phase": args.messages, "mailboxes_per_phase": args.mailboxes,
                               "senders": args.senders, "concurrency": args.concurrency, "rounds": []}
    senders = [f"partner{n}@outside.example" for n in range(args.senders)]
    try:
        actor = Actor("bench", Role.SUPERADMIN, origin="bench")
        with Services.open(settings, actor) as svc:
            svc.domains.add(DOMAIN, hourly_send_limit=10_000_000, default_quota="10G", max_accounts="100000")
            svc.accounts.add(f"finance@{DOMAIN}", PasswordInput(plain=PASSWORD))
            svc.dkim.generate(DOMAIN, "rsa")
            stored_hash = hash_password(PASSWORD, Argon2Params.from_settings(settings))
            manager.RELAY.stop(settings)  # it reads the new DKIM key at its start
            manager.start_relay(settings)
            warm = new_mailboxes(svc, "warm", 4, stored_hash)
            give_sieve(svc, warm[:2])
            asyncio.run(deliver(settings, warm, senders, 200, args.concurrency))
            wait_for_replies(sink, 2 * len(senders))
            for n in range(args.rounds):
                order = ("plain", "sieve") if n % 2 == 0 else ("sieve", "plain")
                row: dict[str, Any] = {}
                for variant in order:
                    mailboxes = new_mailboxes(svc, f"r{n}-{variant}", args.mailboxes, stored_hash)
                    if variant == "sieve":
                        give_sieve(svc, mailboxes)
                    before = sink.received
                    first = asyncio.run(deliver(settings, mailboxes, senders, len(mailboxes) * len(senders),
                                                args.concurrency))
                    if variant == "sieve":
                        expected = before + len(mailboxes) * len(senders)
                        first["replies"] = wait_for_replies(sink, expected) - before
                    before = sink.received
                    steady = asyncio.run(deliver(settings, mailboxes, senders, args.messages, args.concurrency))
                    steady["replies"] = sink.received - before
                    row[variant] = {"first_contact": first, "steady": steady}
                row["ratio_steady"] = round(row["sieve"]["steady"]["per_s"] / row["plain"]["steady"]["per_s"], 3)
                row["ratio_first_contact"] = round(
                    row["sieve"]["first_contact"]["per_s"] / row["plain"]["first_contact"]["per_s"], 3)
                results["rounds"].append(row)
                print(json.dumps(row), flush=True)
        for part in ("steady", "first_contact"):
            plain = statistics.median(r["plain"][part]["per_s"] for r in results["rounds"])
            sieve = statistics.median(r["sieve"][part]["per_s"] for r in results["rounds"])
            results[part] = {"median_plain_per_s": plain, "median_sieve_per_s": sieve,
                             "ratio_of_medians": round(sieve / plain, 3)}
        first = results["first_contact"]
        replies = args.mailboxes * args.senders
        results["wall_ms_per_reply"] = round(
            (replies / first["median_sieve_per_s"] - replies / first["median_plain_per_s"]) / replies * 1000, 1)
        results["load_average_at_end"] = os.getloadavg()
    finally:
        manager.down(settings)
        controller.stop()
    (args.data_dir / "sieve-results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
