"""A process killed while slapd commits its LDAP transaction (directory/txn_keeper.py).

slapd 2.5.13 crashes when a connection closes in the middle of a commit. Killing the
importer with kill -9 used to do exactly that, now and then, in the kill-and-resume test
(and in CI). Here a process writes 900 accounts in one transaction and is killed right
after it sent End Transaction: slapd must stay up and hold all 900 (the keeper kept the
connection open until slapd answered), and the keeper must go away by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.directory import escaping as f
from mailgothai.services.actor import Actor
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import manager
from tests.conftest import stack_settings

COUNT = 900  # below slapd's conn_max_pending_auth (1000 requests in flight on one connection)

CHILD = textwrap.dedent("""
    import sys, time
    from mailgothai.core.models import Account, Status
    from mailgothai.directory import batch, txn_keeper
    from mailgothai.services.backends import Backends
    from mailgothai.settings import load_settings

    settings = load_settings(data_dir=sys.argv[1], environ={})
    domain, count = sys.argv[2], int(sys.argv[3])
    receive = batch._receive

    stall_at = sys.argv[4]

    def receive_and_stall(conn, wanted):
        queued = len(wanted) == count
        ending = len(wanted) == 1 and max(wanted) > count
        if (stall_at == "queued" and queued) or (stall_at == "commit" and ending):
            keeper = txn_keeper.Keeper._instance
            print("stalled", keeper._proc.pid if keeper else 0, flush=True)
            time.sleep(300)
        return receive(conn, wanted)

    batch._receive = receive_and_stall
    backends = Backends.open(settings)
    accounts = [Account(email=f"k{i}@{domain}", domain=domain, quota=1 << 30, status=Status.ACTIVE,
                        given_name="สมชาย", surname="ศรีสุข", display_name="", aliases=(), forwards=())
                for i in range(count)]
    backends.accounts.create_all([(a, "{CRYPT}x") for a in accounts])
""")


def _slapd_pid(settings: Settings) -> int:
    running = [p for p in manager.status(settings).processes if p.name.startswith("slapd") and p.running]
    assert running, "slapd is not running"
    assert running[0].pid is not None
    return running[0].pid


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(("stall_at", "written"), [("commit", COUNT), ("queued", 0)])
def test_killing_a_process_mid_transaction_neither_crashes_slapd_nor_writes_half(
        fresh_data_dir: Path, stall_at: str, written: int) -> None:
    """Killed right after sending End Transaction (slapd commits: all are written), or
    right after sending the adds while slapd's threads queue them (nothing is written)."""
    settings = manager.up(stack_settings(fresh_data_dir)).settings
    try:
        slapd_pid = _slapd_pid(settings)
        domain = f"k{uuid.uuid4().hex[:8]}.go.th"
        with Services.open(settings, Actor("test", Role.SUPERADMIN, origin="test")) as svc:
            svc.domains.add(domain, description="test", max_accounts=str(COUNT + 10))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(settings.data_dir), domain, str(COUNT), stall_at],
                                 stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
        try:
            assert child.stdout is not None
            line = child.stdout.readline().split()
            assert line[:1] == ["stalled"], f"the child did not reach the point to kill it at: {line}"
            keeper_pid = int(line[1])
            assert keeper_pid, "the child started no keeper"
        finally:
            os.killpg(child.pid, signal.SIGKILL)  # the child's whole group, as the import test does
            child.wait()
            if child.stdout is not None:
                child.stdout.close()

        deadline = time.monotonic() + 60  # the keeper closes its copy once slapd has answered
        while _alive(keeper_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(keeper_pid), "the keeper did not exit once the commit was answered"
        assert _alive(slapd_pid), "slapd died when the process was killed during its commit"
        with Services.open(settings, Actor("test", Role.SUPERADMIN, origin="test")) as svc:
            found = svc.backends.gateway.search(
                svc.backends.layout.users(domain), f.eq("objectClass", "mgtAccount"), ["mail"])
        assert len(found) == written, "the transaction was written in part"
    finally:
        manager.down(settings)
