"""Issue 14: `account delete` and `account restore` of an account holding 1 GB of mail.

    python -m bench.bench_lifecycle --data-dir bench/out/lifecycle [--messages 1024] [--message-kb 1024]
        [--rounds 20] [--cli-rounds 20]

Starts a private stack (slapd, Dovecot, relay, web) in DATA_DIR (fresh) on free loopback
ports, adds a domain and one account, delivers --messages messages of --message-kb KiB
each to it over LMTP (one recipient a transaction: real mail, indexed by Dovecot as it
arrives), then measures, interleaved round by round so drift hits all alike:

  service  services.accounts.delete(address) and services.lifecycle.restore(mailbox id),
           in this process with one Services kept open (what the CLI and the web call);
           time spent in doveadm subprocesses is also summed, by doveadm command;
  raw      the same entry moved by ldap3 `modify_dn` as the application's DN alone
           (ou=users -> ou=retained and back: the one LDAP operation each side needs),
           and the 1 GB mailbox directory renamed (`os.rename`) aside and back;
  cli      `mailgothai --data-dir D account delete ADDRESS` / `account restore ID` as an
           operator runs them (process start, imports, settings and connections included),
           beside `ldapmodrdn` and `mv` processes doing the raw moves.

The CLI rounds also time `mailgothai --help` (process start and imports, no work): the
floor of any CLI command. The first, cold round is reported apart (`first_round_ms`) and
left out of the summaries. No-copy check, outside the timed calls: the mailbox home's inode
after every delete and restore, and around all the rounds the inodes, count and bytes of
the message files (a copy would make new inodes), the home's bytes on disk (Dovecot's
indexes included) and the file system's used bytes. At the end Dovecot is asked how many
messages the INBOX holds. Writes DATA_DIR/lifecycle-results.json; stops the stack and
removes the 1 GB mailbox (unless --keep).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ldap3

from bench.stats import summary_ms
from mailgothai.core.models import Role
from mailgothai.directory import escaping as f
from mailgothai.directory.layout import Layout
from mailgothai.directory.retained import ldap_time
from mailgothai.mailstore.doveadm import Doveadm
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager

DOMAIN = "bench-lifecycle.go.th"
ADDRESS = f"big.mailbox@{DOMAIN}"
PASSWORD = "Bench-lifecycle-1"
ROOT = Path(__file__).resolve().parent.parent


def free_port(taken: set[int]) -> int:
    """A free loopback port below the kernel's ephemeral range (tests/conftest.py's rule)."""
    try:
        top = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        top = 32768
    while True:
        port = random.randrange(20000, top)
        if port in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port


def private_settings(data_dir: Path) -> Settings:
    taken: set[int] = set()
    base = load_settings(data_dir=data_dir, environ={})
    return base.replace(protection=0,  # measured without inbound protection (issue 18), as before
                        ldap_port=free_port(taken), imap_port=free_port(taken), imaps_port=free_port(taken),
                        lmtp_port=free_port(taken),
                        smtp_port=free_port(taken), submission_port=free_port(taken),
                        smtps_port=free_port(taken), web_port=free_port(taken),
                        auth_policy_port=free_port(taken), managesieve_port=free_port(taken))


# ---- filling the mailbox -------------------------------------------------------------------
def message(n: int, size: int, rng: random.Random) -> bytes:
    """A plain MIME message of about `size` bytes: headers and a base64 attachment."""
    head = (f"From: Sender {n} <sender{n % 17}@example.org>\r\nTo: <{ADDRESS}>\r\n"
            f"Subject: =?UTF-8?B?{base64.b64encode(f'รายงาน {n}'.encode()).decode()}?=\r\n"
            f"Message-ID: <bench-{n}-{rng.getrandbits(64):x}@example.org>\r\n"
            "Date: Thu, 03 Dec 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nเอกสารแนบ\r\n"
            f"--b\r\nContent-Type: application/pdf; name=\"r{n}.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n")
    raw = rng.randbytes(max(0, (size - len(head) - 16) * 3 // 4 * 76 // 78))
    encoded = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return head.encode() + encoded + b"--b--\r\n"


def fill(settings: Settings, count: int, size: int) -> dict[str, float]:
    rng = random.Random(14)
    started = time.perf_counter()
    total = 0
    with smtplib.LMTP(settings.host, settings.lmtp_port, timeout=120) as lmtp:
        lmtp.ehlo("bench")
        for n in range(count):
            msg = message(n, size, rng)
            total += len(msg)
            refused = lmtp.sendmail("sender@example.org", [ADDRESS], msg)
            assert not refused, refused
    wall = time.perf_counter() - started
    return {"messages": count, "bytes": total, "seconds": round(wall, 1),
            "mb_per_s": round(total / wall / 1e6, 1)}


# ---- what is on disk -------------------------------------------------------------------------
def disk_state(home: Path) -> dict[str, Any]:
    """The home's inode; its message files (Maildir cur/ and new/ of every folder): count,
    bytes and the set of their inodes (a copy would make new inodes); every file under the
    home (Dovecot's indexes included: they change as Dovecot reads the mailbox)."""
    files = blocks = 0
    messages: dict[int, int] = {}
    for directory, _, names in os.walk(home):
        is_mail = os.path.basename(directory) in ("cur", "new")
        for name in names:
            st = os.lstat(os.path.join(directory, name))
            files += 1
            blocks += st.st_blocks * 512
            if is_mail:
                messages[st.st_ino] = st.st_size
    return {"home_inode": os.stat(home).st_ino, "message_files": len(messages),
            "message_bytes": sum(messages.values()), "message_inodes": frozenset(messages),
            "all_files": files, "all_bytes_on_disk": blocks}


def fs_used(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


# ---- doveadm time, by command ---------------------------------------------------------------
DOVEADM_SECONDS: dict[str, float] = {}


def count_doveadm() -> None:
    original = Doveadm._run

    def run(self: Doveadm, *args: str) -> str:
        started = time.perf_counter()
        try:
            return original(self, *args)
        finally:
            key = " ".join(a for a in args[:5]
                           if not a.startswith(("-", "/")) and a != "tab" and "@" not in a)
            DOVEADM_SECONDS[key] = DOVEADM_SECONDS.get(key, 0.0) + time.perf_counter() - started

    Doveadm._run = run  # type: ignore[method-assign]


# ---- the raw moves -------------------------------------------------------------------------
class RawMoves:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout(settings.ldap_base)
        self.conn = ldap3.Connection(ldap3.Server(settings.ldap_uri_list[0], get_info=ldap3.NONE),
                                     user=settings.ldap_app_dn, password=settings.ldap_app_password,
                                     raise_exceptions=True, auto_bind=True)
        self.live = self.layout.account(ADDRESS)

    def to_retained(self) -> str:
        stamp = ldap_time(datetime.now(UTC))
        self.conn.modify_dn(self.live, f.rdn("mgtDeletedAt", stamp), delete_old_dn=False,
                            new_superior=self.layout.retained)
        return self.layout.retained_account(stamp)

    def back(self, dn: str) -> None:
        self.conn.modify_dn(dn, f.rdn("mail", ADDRESS), delete_old_dn=True,
                            new_superior=self.layout.users(DOMAIN))

    def cli_args(self) -> list[str]:
        return ["-x", "-H", self.settings.ldap_uri_list[0], "-D", self.settings.ldap_app_dn,
                "-w", str(self.settings.ldap_app_password)]

    def close(self) -> None:
        self.conn.unbind()


def run_ok(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}… failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def timed_value(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def summarize(samples: dict[str, list[float]]) -> dict[str, Any]:
    return {k: {"first_round_ms": round(v[0] * 1000, 2), **summary_ms(v[1:])} for k, v in samples.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--messages", type=int, default=1024)
    ap.add_argument("--message-kb", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=20,
                    help="service-layer rounds (plus one first, cold round)")
    ap.add_argument("--cli-rounds", type=int, default=20, help="CLI rounds (plus one first round)")
    ap.add_argument("--keep", action="store_true", help="leave the data dir (1 GB) in place")
    args = ap.parse_args()
    if args.data_dir.exists() and any(args.data_dir.iterdir()):
        raise SystemExit(f"{args.data_dir} is not empty: give a fresh directory")
    settings = manager.up(private_settings(args.data_dir)).settings
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, "-m", "bench.bench_lifecycle", *sys.argv[1:]]),
        "load_average_at_start": os.getloadavg()}
    count_doveadm()
    actor = Actor("bench", Role.SUPERADMIN, origin="bench")
    try:
        with Services.open(settings, actor) as svc:
            svc.domains.add(DOMAIN, default_quota="10G")
            svc.accounts.add(ADDRESS, PasswordInput(plain=PASSWORD), quota="10G", given_name="กล่อง",
                             surname="ใหญ่")
            mailbox_id = svc.accounts.get(ADDRESS).mailbox_id
            home = svc.backends.mailboxes.home(mailbox_id)
            results["fill"] = fill(settings, args.messages, args.message_kb * 1024)
            results["mailbox_id"] = mailbox_id
            started = time.perf_counter()
            before = disk_state(home)
            results["no_copy_check_walk_ms"] = round((time.perf_counter() - started) * 1000, 1)
            results["mailbox_before"] = {k: v for k, v in before.items() if k != "message_inodes"}
            results["dovecot_quota_used_bytes"] = svc.backends.doveadm.quota(ADDRESS).used_bytes
            used_before = fs_used(home)

            raw = RawMoves(settings)
            aside = home.with_name(home.name + ".aside")
            samples: dict[str, list[float]] = {k: [] for k in (
                "service_delete", "service_restore", "raw_modrdn_to_retained", "raw_modrdn_back",
                "raw_rename_aside", "raw_rename_back")}
            inode_changes = 0
            DOVEADM_SECONDS.clear()
            for _ in range(args.rounds + 1):
                t, kept = timed_value(lambda: svc.accounts.delete(ADDRESS))
                samples["service_delete"].append(t)
                assert kept.mailbox_id == mailbox_id
                inode_changes += os.stat(home).st_ino != before["home_inode"]
                t, _ = timed_value(lambda: svc.lifecycle.restore(mailbox_id))
                samples["service_restore"].append(t)
                inode_changes += os.stat(home).st_ino != before["home_inode"]
                t, dn = timed_value(raw.to_retained)
                samples["raw_modrdn_to_retained"].append(t)
                t, _ = timed_value(lambda dn=dn: raw.back(dn))
                samples["raw_modrdn_back"].append(t)
                t, _ = timed_value(lambda: os.rename(home, aside))
                samples["raw_rename_aside"].append(t)
                t, _ = timed_value(lambda: os.rename(aside, home))
                samples["raw_rename_back"].append(t)
            doveadm_rounds = {k: round(v / (args.rounds + 1) * 1000, 1) for k, v in DOVEADM_SECONDS.items()}
            results["service"] = summarize(samples)
            results["service_doveadm_ms_per_round_by_command"] = doveadm_rounds
            results["service_p95_ratio"] = {
                "delete_to_raw_modrdn": round(results["service"]["service_delete"]["p95_ms"]
                                              / results["service"]["raw_modrdn_to_retained"]["p95_ms"], 1),
                "restore_to_raw_modrdn": round(results["service"]["service_restore"]["p95_ms"]
                                               / results["service"]["raw_modrdn_back"]["p95_ms"], 1)}

            cli = [str(ROOT / ".venv" / "bin" / "mailgothai"), "--data-dir", str(settings.data_dir)]
            cli_samples: dict[str, list[float]] = {k: [] for k in (
                "cli_account_delete", "cli_account_restore", "ldapmodrdn_to_retained", "ldapmodrdn_back",
                "mv_aside", "mv_back", "cli_help_process_floor")}
            layout = Layout(settings.ldap_base)
            for _ in range(args.cli_rounds + 1):
                t, out = timed_value(lambda: run_ok([*cli, "account", "delete", ADDRESS]))
                cli_samples["cli_account_delete"].append(t)
                assert mailbox_id in out, out
                inode_changes += os.stat(home).st_ino != before["home_inode"]
                t, _ = timed_value(lambda: run_ok([*cli, "account", "restore", mailbox_id]))
                cli_samples["cli_account_restore"].append(t)
                inode_changes += os.stat(home).st_ino != before["home_inode"]
                stamp = ldap_time(datetime.now(UTC))
                t, _ = timed_value(lambda stamp=stamp: run_ok(["ldapmodrdn", *raw.cli_args(), "-s", layout.retained,
                                                   layout.account(ADDRESS), f.rdn("mgtDeletedAt", stamp)]))
                cli_samples["ldapmodrdn_to_retained"].append(t)
                t, _ = timed_value(lambda stamp=stamp: run_ok([
                    "ldapmodrdn", *raw.cli_args(), "-r", "-s", layout.users(DOMAIN),
                    layout.retained_account(stamp), f.rdn("mail", ADDRESS)]))
                cli_samples["ldapmodrdn_back"].append(t)
                t, _ = timed_value(lambda: run_ok(["mv", str(home), str(aside)]))
                cli_samples["mv_aside"].append(t)
                t, _ = timed_value(lambda: run_ok(["mv", str(aside), str(home)]))
                cli_samples["mv_back"].append(t)
                t, _ = timed_value(lambda: run_ok([*cli, "--help"]))  # start + imports, no work
                cli_samples["cli_help_process_floor"].append(t)
            results["cli"] = summarize(cli_samples)
            raw.close()

            after = disk_state(home)
            results["mailbox_after"] = {k: v for k, v in after.items() if k != "message_inodes"}
            results["no_copy"] = {
                "home_inode_changes_seen_in_rounds": inode_changes,
                "same_home_inode": after["home_inode"] == before["home_inode"],
                "same_message_file_inodes": after["message_inodes"] == before["message_inodes"],
                "message_bytes_delta": after["message_bytes"] - before["message_bytes"],
                "all_bytes_on_disk_delta": after["all_bytes_on_disk"] - before["all_bytes_on_disk"],
                "file_system_used_delta_bytes": fs_used(home) - used_before}
            status = run_ok(["doveadm", "-c", str(settings.dovecot_config), "mailbox", "status",
                             "-u", ADDRESS, "messages", "INBOX"])
            results["dovecot_inbox_after"] = status.strip()
            live = svc.accounts.get(ADDRESS)
            assert live.mailbox_id == mailbox_id
        results["load_average_at_end"] = os.getloadavg()
    finally:
        manager.down(settings)
    out = args.data_dir / "lifecycle-results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if not args.keep:
        shutil.rmtree(settings.mailbox_root_path / mailbox_id[:2] / mailbox_id, ignore_errors=True)
        print(f"removed the mailbox ({mailbox_id}); results kept in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
