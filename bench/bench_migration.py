"""Issue 14: moving a full data dir's mailboxes from the old layout to their mailbox ids.

    python -m bench.bench_migration --data-dir bench/out/full [--orphans 100] [--sample 200]
        [--drop-caches] [--profile FILE]

DATA_DIR holds the full data set, loaded by bench/load_dataset.py. The script (its stack
is moved to free loopback ports and stopped first):
  1. clears DATA/mailboxes (homes the admin web's usage sweep may have made after the
     load, or an earlier run's result) and any earlier run's legacy tree and orphan entries;
  2. with slapd alone running, reads every account (mail, entryUUID) with the same paged
     search the migration makes (timed: `ldap_paged_read_alone`), then makes the layout of
     the previous version: DATA/mail/DOMAIN/LOCAL(lower-cased)/Maildir/{cur,new,tmp} with
     one message of --message-bytes in new/ for every account, plus --orphans folders of
     addresses no account has (mail of accounts the old version deleted), all owned by the
     settings' mail uid/gid as Dovecot would have left them;
  3. raw component: a plain loop of os.rename over the same directories to the same
     homes (shard folders made as met), timed; then put back (timed too, not compared);
  4. `mailbox_migration.migrate(settings)` as `stack up` runs it (slapd up, Dovecot down),
     timed and split: the moves of the accounts' mailboxes, the orphans (entries added,
     sizes, moves), the legacy root's removal, and the rest (the paged LDAP read, path and
     shard bookkeeping); checked: every account's mailbox at its id-based home with its
     message, the orphans kept as deleted accounts with their mail, the legacy root gone;
  5. the layout is put back as it was (orphan entries removed), slapd stopped, and a whole
     `manager.up` is timed (slapd start, its config check, the migration, Dovecot, relay,
     web) with the same split; then Dovecot is asked for a random --sample of accounts
     (`doveadm -c DATA/dovecot/dovecot.conf mailbox status -u ADDRESS messages INBOX`: 1).
The stack is stopped at the end; DATA/mailboxes keeps the 207,074 small mailboxes
(~1.7 GB of inodes and blocks: remove it, or the data dir, when done).
--drop-caches: sync and drop the kernel's page, dentry and inode caches before each of
3, 4 and 5 (root only; slows everything else on the machine for a moment). --skip-up: stop
after 4.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_lifecycle import free_port
from mailgothai.directory import escaping as f
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.retained import RetainedDirectory
from mailgothai.mailstore.mailboxes import Mailboxes
from mailgothai.settings import Settings, load_settings, save_settings
from mailgothai.stack import mailbox_migration as mm
from mailgothai.stack import manager, slapd

MESSAGE_TIME = 1764748800  # 2025-12-03, the file name's delivery time


def gateway(settings: Settings) -> Gateway:
    return Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                   timeout=max(settings.ldap_timeout, 60))


def read_accounts(settings: Settings) -> list[tuple[str, str]]:
    """(mail, entryUUID) of every account: the migration's own paged search."""
    gw = gateway(settings)
    try:
        return [(e.first("mail"), e.first("entryUUID")) for e in gw.iter_paged(
            Layout(settings.ldap_base).domains, f.eq("objectClass", "mgtAccount"), ("mail", "entryUUID"),
            page_size=1000)]
    finally:
        gw.close()


def message_bytes(n: int, size: int) -> bytes:
    head = (f"From: <clerk@example.org>\r\nSubject: legacy {n}\r\nMessage-ID: <legacy-{n}@example.org>\r\n"
            "Date: Wed, 03 Dec 2025 08:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode()
    line = ("จดหมายเก่า legacy letter " + "x" * 50)[:70].encode() + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def legacy_dir(legacy: Path, address: str) -> Path:
    local, _, domain = address.lower().rpartition("@")
    return legacy / domain / local


def make_legacy_layout(settings: Settings, accounts: list[tuple[str, str]], orphans: list[str],
                       size: int) -> dict[str, Any]:
    """The previous version's tree: one Maildir with one new message per address."""
    legacy = settings.legacy_mail_root
    started = time.perf_counter()
    legacy.mkdir(mode=0o700)
    body = message_bytes(0, size)
    host = "legacy-node"
    for n, address in enumerate([a for a, _ in accounts] + orphans):
        maildir = legacy_dir(legacy, address) / "Maildir"
        os.makedirs(maildir / "cur", mode=0o700)
        os.mkdir(maildir / "new", 0o700)
        os.mkdir(maildir / "tmp", 0o700)
        name = f"{MESSAGE_TIME + n // 1000}.M{n % 1000000}P{1000 + n % 30000}.{host},S={len(body)}"
        fd = os.open(maildir / "new" / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, body)
        os.close(fd)
    made = time.perf_counter() - started
    subprocess.run(["chown", "-R", f"{settings.mail_uid}:{settings.mail_gid}", str(legacy)], check=True)
    os.sync()
    return {"folders": len(accounts) + len(orphans), "message_bytes": len(body),
            "make_s": round(made, 1), "make_and_chown_and_sync_s": round(time.perf_counter() - started, 1)}


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def raw_renames(settings: Settings, accounts: list[tuple[str, str]]) -> dict[str, Any]:
    """A plain os.rename of every account's legacy folder to its id-based home, then back."""
    legacy, root = settings.legacy_mail_root, settings.mailbox_root_path
    pairs = [(legacy_dir(legacy, a), root / uid[:2] / uid) for a, uid in accounts]
    root.mkdir(mode=0o700, exist_ok=True)
    started = time.perf_counter()
    shards: set[Path] = set()
    for old, new in pairs:
        if new.parent not in shards:
            new.parent.mkdir(exist_ok=True)
            shards.add(new.parent)
        os.rename(old, new)
    forward = time.perf_counter() - started
    started = time.perf_counter()
    for old, new in pairs:
        os.rename(new, old)
    back = time.perf_counter() - started
    shutil.rmtree(root)  # empty shards: the migration meets the tree as an upgrade would
    return {"renames": len(pairs), "forward_s": round(forward, 2), "back_s": round(back, 2),
            "forward_us_per_rename": round(forward / len(pairs) * 1e6, 1)}


class Split:
    """Time spent in the migration's parts, by wrapping its module functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.in_orphans = False
        originals = {name: getattr(mm, name) for name in ("migrate", "_move", "_adopt_orphans",
                                                           "_remove_if_empty", "_prepare_root",
                                                           "ensure_retained_container")}
        for name, fn in originals.items():
            setattr(mm, name, self._wrap(name, fn))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = "orphan_moves" if name == "_move" and self.in_orphans else name
            if name == "_adopt_orphans":
                self.in_orphans = True
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
                self.calls[key] = self.calls.get(key, 0) + 1
                if name == "_adopt_orphans":
                    self.in_orphans = False
        return wrapper

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def report(self) -> dict[str, Any]:
        s = self.seconds
        total = s.get("migrate", 0.0)
        # orphan moves are inside _adopt_orphans already
        accounted = sum(v for k, v in s.items() if k not in ("orphan_moves", "migrate"))
        return {"total_s": round(total, 2),
                "account_moves_s": round(s.get("_move", 0.0), 2),
                "account_move_calls": self.calls.get("_move", 0),
                "orphans_s": round(s.get("_adopt_orphans", 0.0), 2),
                "orphan_moves_s": round(s.get("orphan_moves", 0.0), 3),
                "remove_legacy_root_s": round(s.get("_remove_if_empty", 0.0), 2),
                "retained_container_and_root_s": round(s.get("ensure_retained_container", 0.0)
                                                       + s.get("_prepare_root", 0.0), 3),
                "paged_ldap_read_and_bookkeeping_s": round(total - accounted, 2)}


def check_result(settings: Settings, accounts: list[tuple[str, str]], orphans: list[str]) -> dict[str, Any]:
    mailboxes = Mailboxes(settings.mailbox_root_path)
    missing = [a for a, uid in accounts if len(os.listdir(mailboxes.maildir(uid) / "new")) != 1]
    gw = gateway(settings)
    try:
        retained = RetainedDirectory(gw, Layout(settings.ldap_base))
        kept = [r for o in orphans for r in retained.by_address(o) if r.deleted_by == mm.ORPHAN_DELETED_BY]
    finally:
        gw.close()
    kept_with_mail = [r for r in kept if mailboxes.count_messages(r.mailbox_id) == 1]
    return {"accounts_with_their_message_at_id_home": len(accounts) - len(missing), "missing": missing[:10],
            "orphans_kept_as_deleted_accounts": len(kept), "orphans_with_their_message": len(kept_with_mail),
            "legacy_root_gone": not settings.legacy_mail_root.exists()}


def put_back(settings: Settings, accounts: list[tuple[str, str]], orphans: list[str]) -> None:
    """Undo a migration: the mailboxes back to the legacy tree, the orphans' entries gone."""
    legacy, mailboxes = settings.legacy_mail_root, Mailboxes(settings.mailbox_root_path)
    for address, uid in accounts:
        target = legacy_dir(legacy, address)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(mailboxes.home(uid), target)
    remove_orphan_entries(settings, orphans, legacy)
    subprocess.run(["chown", "-R", f"{settings.mail_uid}:{settings.mail_gid}", str(legacy)], check=True)
    shutil.rmtree(settings.mailbox_root_path)


def remove_orphan_entries(settings: Settings, orphans: list[str], legacy: Path | None) -> int:
    """Delete the retained entries an earlier migration made for orphans; with `legacy`,
    their mail goes back there first."""
    gw = gateway(settings)
    removed = 0
    try:
        retained = RetainedDirectory(gw, Layout(settings.ldap_base))
        mailboxes = Mailboxes(settings.mailbox_root_path)
        for entry in list(retained.iter_all()):
            if entry.deleted_by != mm.ORPHAN_DELETED_BY:
                continue
            if legacy is not None and mailboxes.exists(entry.mailbox_id):
                target = legacy_dir(legacy, entry.email)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(mailboxes.home(entry.mailbox_id), target)
            retained.delete(entry)
            removed += 1
    finally:
        gw.close()
    return removed


def sample_dovecot(settings: Settings, accounts: list[tuple[str, str]], count: int) -> dict[str, Any]:
    """Dovecot reads the INBOX of a random sample of accounts. Its userdb serves active
    accounts only: a disabled account's answer is "User doesn't exist" (its mail is checked
    on disk by check_result), so failures are told apart by the account's status."""
    chosen = random.Random(14).sample(accounts, min(count, len(accounts)))
    good, failed, seconds = 0, [], []
    for address, _ in chosen:
        started = time.perf_counter()
        done = subprocess.run(["doveadm", "-c", str(settings.dovecot_config), "mailbox", "status",
                               "-u", address, "messages", "INBOX"],
                              capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - started)
        found = re.search(r"messages=(\d+)", done.stdout)
        if done.returncode == 0 and found and int(found.group(1)) == 1:
            good += 1
        else:
            failed.append((address, done.returncode, (done.stdout + done.stderr).strip()[:200]))
    gw = gateway(settings)
    try:
        layout = Layout(settings.ldap_base)
        entries = {a: gw.read(layout.account(a), ("mgtStatus",)) for a, _, _ in failed}
        status = {a: e.first("mgtStatus").lower() if e is not None else "no entry"
                  for a, e in entries.items()}
    finally:
        gw.close()
    not_active = [a for a, _, _ in failed if status[a] != "active"]
    return {"asked": len(chosen), "inbox_messages_1": good,
            "not_served_because_not_active": len(not_active),
            "other_failures": [f for f in failed if f[0] not in not_active][:5],
            "doveadm_mean_ms": round(sum(seconds) / len(seconds) * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--orphans", type=int, default=100)
    ap.add_argument("--message-bytes", type=int, default=3000)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--drop-caches", action="store_true")
    ap.add_argument("--skip-up", action="store_true",
                    help="stop after 4 (no `stack up` run, no Dovecot sample)")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the timed migrate() here")
    args = ap.parse_args()
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, "-m", "bench.bench_migration", *sys.argv[1:]]),
        "load_average_at_start": os.getloadavg()}

    settings = load_settings(data_dir=args.data_dir)
    manager.down(settings)
    taken: set[int] = set()
    settings = settings.replace(ldap_port=free_port(taken), imap_port=free_port(taken), imaps_port=free_port(taken),
                                lmtp_port=free_port(taken), smtp_port=free_port(taken),
                                submission_port=free_port(taken), smtps_port=free_port(taken),
                                web_port=free_port(taken), auth_policy_port=free_port(taken),
                                managesieve_port=free_port(taken))
    save_settings(settings)
    settings = manager.prepare(settings)
    for path in (settings.mailbox_root_path, settings.legacy_mail_root):
        shutil.rmtree(path, ignore_errors=True)
    split = Split()
    try:
        for node in slapd.nodes(settings):
            slapd.start(settings, node)
        results["earlier_orphan_entries_removed"] = remove_orphan_entries(settings, [], None)
        started = time.perf_counter()
        accounts = read_accounts(settings)
        results["ldap_paged_read_alone_s"] = round(time.perf_counter() - started, 2)
        results["accounts"] = len(accounts)
        known = {a.lower() for a, _ in accounts}
        domains = sorted({a.rpartition("@")[2] for a, _ in accounts})
        rng = random.Random(7)
        orphans = []
        while len(orphans) < args.orphans:
            address = f"departed.{len(orphans):04d}@{rng.choice(domains)}"
            if address not in known:
                orphans.append(address)
        results["legacy_layout"] = make_legacy_layout(settings, accounts, orphans, args.message_bytes)

        if args.drop_caches:
            drop_caches()
        results["raw_os_rename_loop"] = raw_renames(settings, accounts)

        # 4. the migration alone, as stack up runs it (slapd up, Dovecot down)
        if args.drop_caches:
            drop_caches()
        results["load_average_before_migrate"] = os.getloadavg()
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        done = mm.migrate(settings)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(args.profile))
        total = time.perf_counter() - started
        results["migrate"] = {**split.report(), "with_profiler": bool(profiler), "moved": done.moved,
                              "adopted": len(done.adopted), "left": done.left[:10]}
        raw_s = results["raw_os_rename_loop"]["forward_s"]
        m = results["migrate"]
        results["migrate"]["ratio_to_raw_rename_loop"] = round(total / raw_s, 1)
        results["migrate"]["ratio_to_raw_rename_loop_accounts_only"] = round(
            (m["account_moves_s"] + m["paged_ldap_read_and_bookkeeping_s"]) / raw_s, 1)
        results["migrate_check"] = check_result(settings, accounts, orphans)

        # 5. the same upgrade through a whole `stack up`
        if args.skip_up:
            return finish(args, settings, results)
        put_back(settings, accounts, orphans)
        manager.down(settings)
        if args.drop_caches:
            drop_caches()
        results["load_average_before_up"] = os.getloadavg()
        split.reset()
        started = time.perf_counter()
        manager.up(settings)
        up_total = time.perf_counter() - started
        manager.WEB.stop(settings)  # its usage sweep of 207,074 mailboxes would load the checks
        results["stack_up"] = {"total_s": round(up_total, 2), "migration_within": split.report()}
        results["stack_up_check"] = check_result(settings, accounts, orphans)
        results["dovecot_sample"] = sample_dovecot(settings, accounts, args.sample)
    finally:
        manager.down(settings)
    return finish(args, settings, results)


def finish(args: argparse.Namespace, settings: Settings, results: dict[str, Any]) -> int:
    manager.down(settings)
    results["load_average_at_end"] = os.getloadavg()
    out = args.data_dir / "migration-results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
