"""Issue 15 item 9: nothing in the data directory is readable by another local user.

A real stack is brought up with the CLI, an import runs through the CLI, mail goes
through the relay into Dovecot (LMTP), and the admin web writes sessions and audit
rows. Then every file and directory under the data directory is walked: a file that
group or others can read (its mode lets them and every directory on its way from the
data directory lets them through), or a directory that group or others can list, is
an offender. Dovecot's mail processes run as `mail_uid` (not root), so the directories on
the way to the mailboxes may keep search permission (x) for others, nothing more.
Dovecot's own runtime directory (its sockets, managed by Dovecot itself) is left out, and
the operator's Sieve scripts are for the mail group only (checked on their own).
"""

from __future__ import annotations

import os
import re
import smtplib
import stat
import time
from pathlib import Path

import httpx
import pytest

from mailgothai.settings import load_settings
from mailgothai.stack import manager, protection
from tests.integration.test_stack_cli import PASSWORD, StackCli

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _wait_for_mail(root: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = [p for p in root.rglob("*") if p.is_file() and p.parent.name in ("new", "cur")]
        if len(found) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{count} messages never reached the mailboxes under {root}")


def offenders(data_dir: Path, traversed: set[Path], skip: set[Path]) -> list[str]:
    """Every file under data_dir that group or others can read (its mode lets them, and
    every directory from data_dir down to it lets them pass), and every directory that
    group or others can list. `traversed` directories may have x (only x)."""
    found: list[str] = []
    passable: dict[Path, bool] = {data_dir.parent: True}
    for top, dirs, files in os.walk(data_dir):
        here = Path(top)
        if here in skip:
            dirs[:] = []
            continue
        mode = stat.S_IMODE(os.lstat(here).st_mode)
        allowed = 0o011 if here in traversed else 0
        if mode & 0o077 & ~allowed:
            found.append(f"{oct(mode)} {here}/")
        passable[here] = passable[here.parent] and bool(mode & 0o011)
        for name in files:
            path = here / name
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            if stat.S_IMODE(st.st_mode) & 0o044 and passable[here]:
                found.append(f"{oct(stat.S_IMODE(st.st_mode))} {path}")
    return found


def test_data_dir_is_owner_only_after_up_import_mail_and_web(fresh_data_dir: Path, tmp_path: Path) -> None:
    run = StackCli(fresh_data_dir)
    try:
        run.ok("stack", "up", first=True)
        settings = load_settings(data_dir=fresh_data_dir, environ={})
        domain = "perms.go.th"
        run.ok("domain", "add", domain, "--description", "สิทธิ์ไฟล์")
        # inbound protection is on (rspamd, Redis, clamd: their files are checked too); the
        # mail below from an unknown sender must not wait for greylisting
        run.ok("spam", "policy", "set", domain, "--no-greylisting")
        upload = tmp_path / "accounts.csv"
        users = [f"user{n}@{domain}" for n in range(3)]
        upload.write_text("email,given_name,password\r\n"
                          + "".join(f"{u},ผู้ใช้{n},{PASSWORD}\r\n" for n, u in enumerate(users)), encoding="utf-8")
        run.ok("import", str(upload))
        run.ok("admin", "add", "perm-op", "--role", "superadmin", "--password-stdin", stdin=PASSWORD + "\n")

        with smtplib.SMTP(settings.host, settings.smtp_port, timeout=60) as mx:
            mx.ehlo("mx.remote.test")
            for n, user in enumerate(users):
                mx.sendmail("someone@remote.test", [user],
                            f"From: <someone@remote.test>\r\nTo: <{user}>\r\nSubject: n{n}\r\n"
                            f"Message-ID: <perm{n}@remote.test>\r\n\r\nbody {n}\r\n".encode())
        _wait_for_mail(settings.mailbox_root_path, len(users))

        with httpx.Client(base_url=f"http://{settings.host}:{settings.web_port}", timeout=60,
                          headers={"Accept-Language": "en"}, verify=False) as web:
            page = web.get("/login")
            token = CSRF.search(page.text)
            assert token, page.text
            done = web.post("/login", data={"login": "perm-op", "password": PASSWORD, "csrf_token": token.group(1)})
            assert done.status_code in (302, 303), done.text
            assert web.get("/domains").status_code == 200
        assert list(fresh_data_dir.glob("*.sqlite3")), "the SQL store is a file in the data dir"

        root = fresh_data_dir.resolve()
        mail = settings.mailbox_root_path.resolve()
        dovecot_dir = settings.dovecot_config.parent.resolve()
        traversed = {root, dovecot_dir, *(p for p in mail.parents if root in p.parents or p == root)}
        dovecot_run = dovecot_dir / "run"
        # the operator's Sieve scripts: for the mail group (Dovecot's delivery), no one else
        sieve_dir = dovecot_dir / "sieve"
        # the relay's pickup for Sieve mail: the mail user writes into tmp/ and new/, passes
        # through the spool and sieve-pickup/ (x only); no one else
        spool, pickup = settings.spool_dir.resolve(), settings.sieve_pickup_dir
        traversed |= {spool, pickup}
        # rspamd's workers (under root, _rspamd) pass through to their state and clamd's socket
        traversed |= set(protection.traversed(settings))
        assert (root / "rspamd" / "rspamd.conf").is_file() and (root / "clamav" / "clamd.conf").is_file()
        bad = offenders(root, traversed, skip={dovecot_run, sieve_dir, pickup / "tmp", pickup / "new"})
        assert bad == [], "readable by group or others:\n" + "\n".join(bad)
        for path in (sieve_dir, *sieve_dir.rglob("*")):
            st = os.lstat(path)
            assert stat.S_IMODE(st.st_mode) & 0o027 == 0 and st.st_gid == settings.mail_gid, (oct(st.st_mode), path)
        for path, mode in ((pickup / "tmp", 0o1730), (pickup / "new", 0o1770)):
            st = os.lstat(path)
            assert (stat.S_IMODE(st.st_mode), st.st_gid) == (mode, settings.mail_gid), (oct(st.st_mode), path)

        # A data dir an older version left readable: the next `stack up` repairs it, and
        # mail still reaches the mailboxes through the directories Dovecot traverses.
        run.ok("stack", "down")
        for path in (root / "mailgothai.sqlite3", root / "slapd" / "slapd.log", root / "log" / "relay.log"):
            path.chmod(0o644)
        for path in (root, root / "slapd", root / "imports", root / "log"):
            path.chmod(0o755)
        assert offenders(root, traversed, skip={dovecot_run, sieve_dir, pickup / "tmp", pickup / "new"}) != []
        run.ok("stack", "up")
        with smtplib.SMTP(settings.host, settings.smtp_port, timeout=60) as mx:
            mx.sendmail("someone@remote.test", [users[0]], b"Subject: after\r\n\r\nagain\r\n")
        _wait_for_mail(settings.mailbox_root_path, len(users) + 1)
        bad = offenders(root, traversed, skip={dovecot_run, sieve_dir, pickup / "tmp", pickup / "new"})
        assert bad == [], "readable by group or others after a repairing up:\n" + "\n".join(bad)
    finally:
        manager.down(load_settings(data_dir=fresh_data_dir, environ={}))
