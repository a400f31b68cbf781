"""`mailgothai stack up | down | status`, run as a user runs them (CLI processes) on a
data directory of their own: nothing is lost across down/up, nothing is left after down."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailgothai.settings import load_settings
from mailgothai.stack import manager
from mailgothai.stack.process import children_of
from tests.conftest import CHEAP_ARGON2, free_port
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

PASSWORD = "Stack-cycle-pw9"
PORT_SETTINGS = ("ldap_port", "imap_port", "imaps_port", "lmtp_port", "smtp_port", "submission_port", "smtps_port",
                 "web_port", "managesieve_port",
                 "auth_policy_port", "rspamd_port", "rspamd_controller_port", "redis_port",
                 "relay_metrics_port", "dovecot_metrics_port")


class StackCli:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # Settings a user would put in the environment for the first `up`; `up` writes
        # them into DATA/mailgothai.toml, and every later command reads them from there.
        self.first_env = {f"MAILGOTHAI_{name.upper()}": str(free_port()) for name in PORT_SETTINGS}
        self.first_env.update({f"MAILGOTHAI_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()})
        self.first_env["MAILGOTHAI_AUTH_CACHE_TTL"] = "60"

    def __call__(self, *args: str, stdin: str | None = None,
                 first: bool = False) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
        if first:
            env.update(self.first_env)
        done = subprocess.run([sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(self.data_dir), *args],
                              input=stdin, capture_output=True, text=True, env=env, timeout=300, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def ok(self, *args: str, stdin: str | None = None, first: bool = False) -> str:
        done = self(*args, stdin=stdin, first=first)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def status(self) -> dict[str, Any]:
        done = self("stack", "status", "--json")
        data = json.loads(done.stdout)
        assert done.returncode == (0 if data["running"] else 3), done
        return data


def _listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _alive(pid: int, cmdline: bytes) -> bool:
    """pid still runs the same program (a reused PID with another command line is not ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        current = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X") and current == cmdline


def _processes(status: dict[str, Any]) -> dict[int, bytes]:  # type: ignore[type-arg]
    """Every process of the stack: the recorded PIDs and all their children."""
    found: dict[int, bytes] = {}
    for proc in status["processes"].values():
        for pid in (proc["pid"], *children_of(proc["pid"])):
            try:
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                pass
    return found


def _endpoints(status: dict[str, Any]) -> list[str]:  # type: ignore[type-arg]
    ldap = status["ldap_uri"].removeprefix("ldap://").rstrip("/")
    web = status["web"].removeprefix("http://").rstrip("/")
    return [ldap, status["imap"], status["lmtp"], status["smtp"], status["submission"], web]


def test_up_down_up_keeps_everything_and_down_leaves_nothing(fresh_data_dir: Path) -> None:
    run = StackCli(fresh_data_dir)
    try:
        run.ok("stack", "up", first=True)
        status = run.status()
        assert status["running"] is True
        assert Path(status["data_dir"]) == fresh_data_dir.resolve()
        assert status["ldap_uri"] == f"ldap://127.0.0.1:{run.first_env['MAILGOTHAI_LDAP_PORT']}"
        assert status["imap"] == f"127.0.0.1:{run.first_env['MAILGOTHAI_IMAP_PORT']}"
        assert status["lmtp"] == f"127.0.0.1:{run.first_env['MAILGOTHAI_LMTP_PORT']}"
        assert {"slapd", "dovecot"} <= set(status["processes"])
        for name, proc in status["processes"].items():
            assert proc["running"] is True and isinstance(proc["pid"], int), name
            assert _alive(proc["pid"], Path(f"/proc/{proc['pid']}/cmdline").read_bytes()), name
        assert all(_listening(address) for address in _endpoints(status))
        metrics = status["metrics"]  # Prometheus scrapes these (issue 19); from this host, no token needed
        assert set(metrics) == {"relay", "web", "dovecot"}
        assert metrics["relay"] == f"http://127.0.0.1:{run.first_env['MAILGOTHAI_RELAY_METRICS_PORT']}/metrics"
        for name, url in metrics.items():
            assert httpx.get(url, timeout=30).status_code == 200, name

        # `up` again while running: harmless, the same processes keep running.
        run.ok("stack", "up")
        again = run.status()
        assert again["processes"] == status["processes"]

        domain = "cycle.go.th"
        run.ok("domain", "add", domain, "--description", "รอบ up/down")
        accounts = [f"user{n}@{domain}" for n in range(3)]
        for email in accounts:
            run.ok("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n")
        settings = load_settings(data_dir=fresh_data_dir, environ={})
        mail = MailClients(settings)
        for n, email in enumerate(accounts):
            mail.deliver(email, f"Subject: kept {n}\r\n\r\nbody {n}\r\n".encode())
        listing_before = run.ok("account", "list", domain, "--json")

        processes = _processes(status)
        assert len(processes) > len(status["processes"]), "Dovecot runs child processes"
        down = run("stack", "down")
        assert down.returncode == 0, down.stderr
        left = {pid: cmd for pid, cmd in processes.items() if _alive(pid, cmd)}
        assert left == {}, "processes of the stack still running after down"
        assert [a for a in _endpoints(status) if _listening(a)] == []
        stopped = run.status()
        assert stopped["running"] is False
        assert all(p["running"] is False for p in stopped["processes"].values())

        run.ok("stack", "up")
        assert run.status()["running"] is True
        assert run.ok("account", "list", domain, "--json") == listing_before
        for n, email in enumerate(accounts):
            with mail.imap(email, PASSWORD) as imap:
                imap.select_folder("INBOX", readonly=True)
                fetched = imap.fetch(imap.search(["ALL"]), ["BODY.PEEK[TEXT]", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
            assert [(d[b"BODY[HEADER.FIELDS (SUBJECT)]"].strip(), d[b"BODY[TEXT]"]) for d in fetched.values()] == [
                (f"Subject: kept {n}".encode(), f"body {n}\r\n".encode())]
        run.ok("stack", "down")
        assert run.status()["running"] is False
    finally:
        manager.down(load_settings(data_dir=fresh_data_dir, environ={}))


def test_down_when_nothing_runs_is_harmless(fresh_data_dir: Path) -> None:
    run = StackCli(fresh_data_dir)
    try:
        run.ok("stack", "up", first=True)
        run.ok("stack", "down")
        run.ok("stack", "down")
        assert run.status()["running"] is False
    finally:
        manager.down(load_settings(data_dir=fresh_data_dir, environ={}))


def test_up_with_demo_prints_logins_that_work(fresh_data_dir: Path) -> None:
    """What `bash scripts/run.sh` does: `stack up --demo`, once; its logins log in."""
    run = StackCli(fresh_data_dir)
    try:
        out = run.ok("stack", "up", "--demo", first=True)
        logins = re.findall(r"^  imap\s+(\S+@\S+)\s+(\S+)$", out, re.MULTILINE)
        assert len(logins) >= 2, out
        mail = MailClients(load_settings(data_dir=fresh_data_dir, environ={}))
        for user, password in logins:
            assert mail.can_login(user, password), user
        assert re.search(r"^  admin\s+\S+\s+\S+$", out, re.MULTILINE), out

        again = run.ok("stack", "up", "--demo")
        assert "demo data already present" in again
        assert not re.findall(r"^  imap\s", again, re.MULTILINE), "passwords are shown once"
        assert all(mail.can_login(user, password) for user, password in logins)
    finally:
        manager.down(load_settings(data_dir=fresh_data_dir, environ={}))
