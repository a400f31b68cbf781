"""Issue 18: inbound mail through the MX with rspamd and ClamAV on, end to end into
Dovecot, against Postfix with rspamd as its milter delivering into the same Dovecot —
the set-up Mailu and mailcow ship — side by side, in one run.

    python -m bench.bench_inbound --data-dir bench/out/inbound [--rounds 3]
        [--recipients 2000] [--concurrency 32]

Needs root (Postfix). Starts a private stack with protection on (slapd, Dovecot, Redis,
clamd, rspamd, the relay) in DATA_DIR on free loopback ports, plus a private Postfix
(bench/postfix_mx.py) whose `smtpd_milters` is an rspamd proxy worker (milter mode,
self-scanning, the same rspamd configuration as the stack's) started beside the
stack's rspamd. One hosted domain, greylisting off (no phase should wait on a delay).
Then --rounds times, interleaved (relay, postfix; then postfix, relay; ...), each phase
into --recipients FRESH mailboxes (STACK-NOTES "Benchmarking delivery"): one 10 KB
message (text and a 4 KB attachment of random bytes, so clamd scans something new each
time) from an outside sender to each, over --concurrency SMTP connections from this
process, no TLS on either side; DNS from a loopback server that answers every question
NXDOMAIN at once (class LoopbackDns). A phase's time runs from the first MAIL FROM until the
last message is in its Maildir. Reports delivered/s per phase, the medians, their ratio
(target ≥ 1.3), the CPU per message of each process group, the relay's peak RSS (target
≤ 250 MB) and what rspamd said about the messages (they must all be delivered, not
refused). Writes DATA_DIR/inbound-results.json and prints it. Stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib

from bench.bench_relay import cpu_by_process, free_port, peak_rss_mb
from bench.postfix_mx import PostfixMx
from bench.postfix_mx import write as write_postfix
from mailgothai.core.models import Role
from mailgothai.core.passwords import Argon2Params, hash_password
from mailgothai.probes import port_open
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager, protection
from mailgothai.stack.process import read_pid, stop_pid

DOMAIN = "bench-inbound.go.th"
SENDER = "news@partner-agency.example"
PASSWORD = "Bench-inbound-pass-1"
TEXT = ("รายงานการประชุมคณะกรรมการประจำเดือน ขอให้ทุกหน่วยงานตรวจสอบรายละเอียดก่อนวันศุกร์ "
        "The committee's monthly minutes are attached; please check the figures before Friday. ") * 24


def message(rcpt: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Partner Agency <{SENDER}>"
    msg["To"] = rcpt
    msg["Subject"] = f"Monthly minutes {n}"
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0700"
    msg["Message-ID"] = f"<bench-{n}-{os.urandom(6).hex()}@partner-agency.example>"
    msg.set_content(TEXT[:5200])
    msg.add_attachment(os.urandom(3000), maintype="application", subtype="octet-stream",
                       filename=f"minutes-{n}.bin")
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def new_mailboxes(svc: Services, tag: str, count: int, stored_hash: str) -> dict[str, Path]:
    boxes: dict[str, Path] = {}
    for n in range(count):
        address = f"{tag}-{n}@{DOMAIN}"
        svc.accounts.add(address, PasswordInput(stored_hash=stored_hash))
        boxes[address] = svc.backends.mailboxes.maildir(svc.accounts.get(address).mailbox_id)
    return boxes


async def send_all(port: int, boxes: dict[str, Path], concurrency: int) -> dict[str, str]:
    """One message to each mailbox over `concurrency` connections; the refusals, if any."""
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for n, rcpt in enumerate(boxes):
        queue.put_nowait((n, rcpt))
    refused: dict[str, str] = {}

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=120,
                                 local_hostname="mx.partner-agency.example")
        await client.connect()
        await client.ehlo()
        try:
            while not queue.empty():
                n, rcpt = queue.get_nowait()
                try:
                    await client.sendmail(SENDER, [rcpt], message(rcpt, n))
                except aiosmtplib.SMTPException as exc:
                    refused[rcpt] = str(exc)
        finally:
            await client.quit()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return refused


def delivered(boxes: dict[str, Path], pending: set[str]) -> None:
    """In the INBOX or in Junk: now and then rspamd scores a message's random attachment as
    a mislabelled executable (MIME_BAD_EXTENSION) and the operator's Sieve files it there,
    on both paths."""
    for address in list(pending):
        for new in (boxes[address] / "new", boxes[address] / ".Junk" / "new"):
            try:
                if any(True for _ in os.scandir(new)):
                    pending.discard(address)
                    break
            except FileNotFoundError:
                pass


def phase(kind: str, port: int, boxes: dict[str, Path], concurrency: int, labels: dict[int, str],
          timeout: float = 900) -> dict[str, Any]:
    before = cpu_by_process(labels)
    start = time.perf_counter()
    refused = asyncio.run(send_all(port, boxes, concurrency))
    sent_at = time.perf_counter() - start
    pending = set(boxes) - set(refused)
    while pending and time.perf_counter() - start < timeout:
        delivered(boxes, pending)
        if pending:
            time.sleep(0.05)
    wall = time.perf_counter() - start
    after = cpu_by_process({**labels, **process_labels()})  # and those started during the phase
    count = len(boxes) - len(pending) - len(refused)
    cpu: dict[str, float] = {}
    for key, seconds in after.items():
        group = key[1] if key[1] in GROUPS else "other processes"
        cpu[group] = cpu.get(group, 0.0) + seconds - before.get(key, 0.0)
    return {"kind": kind, "delivered": count, "refused": list(refused.items())[:3], "refused_count": len(refused),
            "seconds": round(wall, 2), "all_sent_after": round(sent_at, 2),
            "per_s": round(count / wall, 1) if wall else 0.0,
            "cpu_ms_per_message": {k: round(v * 1000 / max(count, 1), 2) for k, v in sorted(cpu.items()) if v > 0}}


GROUPS = ("bench clients", "relay", "other mailgothai", "rspamd", "clamd", "redis", "dovecot", "postfix", "slapd")


def process_labels() -> dict[int, str]:
    """Every process of the two paths, by what it is part of (others: their own title)."""
    labels: dict[int, str] = {os.getpid(): "bench clients"}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "mailgothai.cli.main" in cmd:
            label = "relay" if " relay run" in cmd else "other mailgothai"
        elif cmd.startswith("rspamd") or "/rspamd " in cmd:
            label = "rspamd"
        elif "clamd" in cmd:
            label = "clamd"
        elif "redis-server" in cmd:
            label = "redis"
        elif cmd.startswith("dovecot") or "/dovecot" in cmd:
            label = "dovecot"
        elif "/usr/lib/postfix" in cmd or any(f" -t {kind} " in f"{cmd} " for kind in ("unix", "inet", "unix-dgram")):
            label = "postfix"
        elif "slapd" in cmd:
            label = "slapd"
        else:
            continue
        labels[int(entry.name)] = label
    return labels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--recipients", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    dns = LoopbackDns()
    if args.data_dir.exists() and any(args.data_dir.iterdir()):
        raise SystemExit(f"{args.data_dir} is not empty: give a fresh directory")
    base = load_settings(data_dir=args.data_dir, environ={})
    settings = base.replace(ldap_port=free_port(), imap_port=free_port(), imaps_port=free_port(), lmtp_port=free_port(),
                            smtp_port=free_port(), submission_port=free_port(), smtps_port=free_port(),
                            auth_policy_port=free_port(), managesieve_port=free_port(), web_port=free_port(),
                            rspamd_port=free_port(), rspamd_controller_port=free_port(), redis_port=free_port(),
                            protection=1, relay_dns=dns.address, relay_command_rate_per_ip=1_000_000,
                            relay_command_burst_per_ip=1_000_000, relay_max_connections_per_ip=1000)
    settings = manager.up(settings).settings
    results: dict[str, Any] = {"command": " ".join(["python", "-m", "bench.bench_inbound", *sys.argv[1:]]),
                               "load_average_at_start": os.getloadavg()}
    postfix: PostfixMx | None = None
    proxy: Milter | None = None
    try:
        actor = Actor("bench", Role.SUPERADMIN, origin="bench")
        stored = hash_password(PASSWORD, Argon2Params.from_settings(settings))
        with Services.open(settings, actor) as svc:
            svc.domains.add(DOMAIN, default_quota="1G")
            quiet_domain(svc)
            phases = [[("relay", "postfix"), ("postfix", "relay")][r % 2] for r in range(args.rounds)]
            boxes = {(r, kind): new_mailboxes(svc, f"r{r}{kind[0]}", args.recipients, stored)
                     for r, kinds in enumerate(phases) for kind in kinds}
        no_greylisting(settings)
        proxy = start_milter(settings)
        postfix = write_postfix(args.data_dir.resolve() / "postfix", settings, port=free_port(), domains=[DOMAIN],
                                milter_port=proxy.port)
        postfix.start()
        relay_pid = manager.RELAY.status(settings).pid
        assert relay_pid is not None
        # warm-up: both paths, a few messages each, into mailboxes not measured
        with Services.open(settings, actor) as svc:
            warm = new_mailboxes(svc, "warm", 40, stored)
        asyncio.run(send_all(settings.smtp_port, dict(list(warm.items())[:20]), 4))
        asyncio.run(send_all(postfix.port, dict(list(warm.items())[20:]), 4))
        runs: list[dict[str, Any]] = []
        for r, kinds in enumerate(phases):
            for kind in kinds:
                port = settings.smtp_port if kind == "relay" else postfix.port
                result = phase(kind, port, boxes[(r, kind)], args.concurrency, process_labels())
                result["round"] = r
                runs.append(result)
                print(json.dumps(result), flush=True)
        relay_rates = [x["per_s"] for x in runs if x["kind"] == "relay"]
        postfix_rates = [x["per_s"] for x in runs if x["kind"] == "postfix"]
        results["phases"] = runs
        results["relay_median_per_s"] = statistics.median(relay_rates)
        results["postfix_median_per_s"] = statistics.median(postfix_rates)
        results["ratio"] = round(results["relay_median_per_s"] / results["postfix_median_per_s"], 3)
        results["ratio_by_round"] = [round(a / b, 3) for a, b in zip(relay_rates, postfix_rates, strict=True)]
        results["relay_peak_rss_mb"] = round(peak_rss_mb(relay_pid), 1)
        results["scanned_sample"] = scanned_sample(boxes)
        results["load_average_at_end"] = os.getloadavg()
    finally:
        if postfix is not None:
            postfix.stop()
        if proxy is not None:
            proxy.stop()
        manager.down(settings)
        dns.stop()
    out = args.data_dir / "inbound-results.json"
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


class LoopbackDns:
    """A DNS server on loopback answering every question NXDOMAIN at once (dnslib, as the
    tests' server): rspamd's SPF, DKIM and DMARC lookups get an answer as from a resolver
    with it cached, for both paths alike, and no lookup leaves the machine or waits on a
    timeout (without one, each scan waited on its lookups and both paths were bound by
    that latency, not by their work)."""

    def __init__(self) -> None:
        from dnslib import RCODE, DNSRecord
        from dnslib.server import BaseResolver, DNSLogger, DNSServer

        class Nothing(BaseResolver):  # type: ignore[misc]
            def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
                reply = request.reply()
                reply.header.rcode = RCODE.NXDOMAIN
                return reply

        self.port = free_port()
        self._server = DNSServer(Nothing(), port=self.port, address="127.0.0.1",
                                 logger=DNSLogger("-request,-reply,-truncated,-recv,-send,-data"))
        self._server.start_thread()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()
        self._server.server.server_close()


def quiet_domain(svc: Services) -> None:
    """Greylisting off for the bench's domain: no phase waits on a delay. Scores as the
    operator's default (the bench's messages are clean: both paths must deliver them all)."""
    svc.spam.set(DOMAIN, {"greylisting": False})


MILTER_CONF = """\
# bench/bench_inbound.py: rspamd's proxy worker as Postfix's milter (as Debian's worker-proxy.inc:
# milter mode, one process), passing each message to the stack's normal worker to scan
.include "$CONFDIR/common.conf"
options {{
    pidfile = "{pid}";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}}
logging {{
    type = "file";
    filename = "{log}";
    level = "error";
}}
worker "rspamd_proxy" {{
    bind_socket = "{host}:{port}";
    milter = yes;
    timeout = 120s;
    upstream "scanner" {{
        default = yes;
        hosts = "{host}:{scan_port}";
    }}
    count = 1;
    max_retries = 5;
    discard_on_reject = false;
    quarantine_on_reject = false;
    spam_header = "X-Spam";
    reject_message = "Spam message rejected";
}}
"""


@dataclass
class Milter:
    pid_file: Path
    port: int

    def stop(self) -> None:
        pid = read_pid(self.pid_file)
        if pid:
            stop_pid(pid, "rspamd: main process")


def no_greylisting(settings: Settings) -> None:
    """rspamd's greylist module off for both paths (the relay switches it off per request for
    a domain without greylisting; Postfix's milter cannot say which domain's policy applies),
    then rspamd reloads its configuration (SIGHUP to its main process)."""
    paths = protection.paths_for(settings)
    override = paths.rspamd_dir / "override.d" / "greylist.conf"
    override.write_text("# bench/bench_inbound.py: no phase waits on greylisting\nenabled = false;\n")
    pid = read_pid(paths.rspamd_pid)
    assert pid is not None
    os.kill(pid, signal.SIGHUP)
    time.sleep(5)  # the workers restart with the new configuration
    while not port_open(settings.host, settings.rspamd_port):
        time.sleep(0.2)


def start_milter(settings: Settings) -> Milter:
    """A second rspamd process beside the stack's, with only a proxy worker in milter mode
    (the stack's local options: the same resolvers), forwarding to the stack's scanner."""
    stack_dir = protection.paths_for(settings).rspamd_dir
    root = settings.data_dir.resolve() / "rspamd-milter"
    (root / "run").mkdir(parents=True, exist_ok=True)
    (root / "db").mkdir(exist_ok=True)
    port = free_port()
    pid_file = root / "run" / "rspamd.pid"
    conf = root / "rspamd.conf"
    conf.write_text(MILTER_CONF.format(pid=pid_file, log=root / "rspamd.log", host=settings.host, port=port,
                                       scan_port=settings.rspamd_port))
    argv = ["rspamd", "-c", str(conf), f"--var=LOCAL_CONFDIR={stack_dir}", f"--var=DBDIR={root / 'db'}",
            f"--var=RUNDIR={root / 'run'}", f"--var=LOGDIR={root}"]
    subprocess.run([*argv, *(["--insecure"] if os.geteuid() == 0 else [])], check=True)
    deadline = time.monotonic() + 60
    while not port_open(settings.host, port):
        if time.monotonic() > deadline:
            raise SystemExit(f"rspamd's proxy did not listen: {(root / 'rspamd.log').read_text()[-2000:]}")
        time.sleep(0.2)
    return Milter(pid_file, port)


def scanned_sample(boxes: dict[tuple[int, str], dict[str, Path]]) -> dict[str, str]:
    """The spam headers of one delivered message of each path: both were scanned."""
    sample: dict[str, str] = {}
    for (_, kind), mailboxes in boxes.items():
        if kind in sample:
            continue
        for path in mailboxes.values():
            files = list((path / "new").glob("*"))
            if files:
                head = files[0].read_bytes().split(b"\r\n\r\n" if b"\r\n\r\n" in files[0].read_bytes() else b"\n\n")[0]
                sample[kind] = "\n".join(line for line in head.decode(errors="replace").splitlines()
                                         if line.lower().startswith(("x-spam", "x-rspamd", "authentication-results")))
                break
    return sample


if __name__ == "__main__":
    raise SystemExit(main())
