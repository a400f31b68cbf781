"""A data directory made by the version before mailbox ids (commit PREVIOUS, run for real
from its own source tree) is brought up to this one by `stack up`: every mailbox moves from
DATA/mail/DOMAIN/LOCAL to its id-based home, every message stays readable, and the mail of
an account that version deleted becomes a deleted account kept for its domain's period.
Also when `stack up` is killed (-9) half way through the moves and run again.

The previous version is taken from this repository's history (`git archive`), so the test
needs the clone's .git, as CI has it.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.mailstore.mailboxes import Mailboxes
from mailgothai.paths import PROJECT_ROOT
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import mailbox_migration, manager
from tests.conftest import CHEAP_ARGON2, free_port, stack_data_dir, stack_settings
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

PREVIOUS = "b62e289f8dcbbebd5969e4ec1f9209a135eecdfd"  # the last commit before mailbox ids
PASSWORD = "Migrated-pass-1"
DOMAINS = ("mig-a.go.th", "mig-b.go.th")
PER_DOMAIN = 700  # enough mailboxes that a kill lands between two moves
ORPHAN = "left.2567@mig-a.go.th"  # deleted by the previous version, its mail left behind


@dataclass(frozen=True)
class OldDataDir:
    path: Path
    env: dict[str, str]  # what the previous version ran with
    expected: dict[str, int]  # address -> messages in its INBOX
    subfolder: str  # an address that also has mail in Projects.2569


def _previous_tree(root: Path) -> Path:
    if not (PROJECT_ROOT / ".git").exists():
        pytest.fail(f"{PROJECT_ROOT} is not a git clone: the previous version ({PREVIOUS[:7]}) comes from its history")
    archive = root / "previous.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(PROJECT_ROOT), "archive", PREVIOUS], stdout=out, check=True)
    tree = root / "previous"
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _run_previous(tree: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "mailgothai.cli.main", *args], cwd=tree, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _import_previous(tree: Path, env: dict[str, str], data_dir: Path, rows: Path) -> None:
    """The previous version's import of `rows` (its job 1), resumed after a restart if its
    slapd died under it: that version predates the pause before a transaction's End
    (directory/batch.py SETTLE_BEFORE_END, commit 10c7427) without which slapd 2.5.13
    segfaults now and then in do_add. Resuming is what an operator of that version did."""
    base = ("--data-dir", str(data_dir))
    done = _previous_import(tree, env, *base, "import", str(rows))
    for _ in range(3):
        if done.returncode == 0:
            return
        assert "mailgothai: error: the directory " in done.stderr, (done.stdout, done.stderr)  # unreachable, closed
        _run_previous(tree, env, *base, "stack", "down")
        _run_previous(tree, env, *base, "stack", "up")
        done = _previous_import(tree, env, *base, "import", "--resume", "1")
    assert done.returncode == 0, (done.stdout, done.stderr)


def _previous_import(tree: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """One run of the previous version's import; one that hangs (its slapd stuck rather than
    dead, the same hazard) is stopped after 300 s and answered as the directory failing."""
    try:
        return subprocess.run([sys.executable, "-m", "mailgothai.cli.main", *args], cwd=tree, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 1, "", "mailgothai: error: the directory did not answer in 300 s")


def _env_for(settings: Settings, tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    env["PYTHONPATH"] = str(tree)
    for name in ("ldap_port", "imap_port", "imaps_port", "lmtp_port", "smtp_port", "submission_port", "smtps_port",
                 "web_port", "managesieve_port",
                 "auth_policy_port", "auth_cache_ttl", "sql_url", *CHEAP_ARGON2):
        value = getattr(settings, name)
        if value not in ("", None):
            env[f"MAILGOTHAI_{name.upper()}"] = str(value)
    return env


def _deliver(settings: Settings, recipients: list[str], subject: str) -> None:
    """One message to many recipients over LMTP, 100 per transaction (LMTP answers DATA
    once per recipient, which smtplib's sendmail does not read)."""
    message = f"From: <clerk@example.org>\r\nSubject: {subject}\r\n\r\n{subject}\r\n.\r\n".encode()
    with smtplib.LMTP(settings.host, settings.lmtp_port, timeout=60) as lmtp:
        lmtp.ehlo()
        for start in range(0, len(recipients), 100):
            batch = recipients[start:start + 100]
            assert lmtp.mail("clerk@example.org")[0] == 250
            for recipient in batch:
                assert lmtp.rcpt(recipient)[0] == 250, recipient
            assert lmtp.docmd("DATA")[0] == 354
            lmtp.send(message)
            replies = [lmtp.getreply() for _ in batch]
            assert all(code == 250 for code, _ in replies), replies


@pytest.fixture(scope="module")
def old_data_dir() -> Iterator[OldDataDir]:
    """A data directory the previous version made and filled, its stack stopped."""
    with stack_data_dir("previous") as data_dir:
        tree = _previous_tree(data_dir.parent)
        settings = stack_settings(data_dir)
        env = _env_for(settings, tree)
        _run_previous(tree, env, "--data-dir", str(data_dir), "stack", "up")
        try:
            addresses = []
            rows = data_dir.parent / "staff.csv"
            with rows.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["email", "display_name", "password"])
                for domain in DOMAINS:
                    _run_previous(tree, env, "--data-dir", str(data_dir), "domain", "add", domain)
                    for n in range(PER_DOMAIN):
                        addresses.append(f"staff{n:04d}@{domain}")
                        writer.writerow([addresses[-1], f"เจ้าหน้าที่ {n}", PASSWORD])
                writer.writerow([ORPHAN, "ผู้ที่ออกไปแล้ว", PASSWORD])
            _import_previous(tree, env, data_dir, rows)
            old = load_settings(data_dir=data_dir, environ={})
            _deliver(old, [*addresses, ORPHAN], "first letter")
            _deliver(old, addresses[::7], "second letter")
            expected = {a: 2 if n % 7 == 0 else 1 for n, a in enumerate(addresses)}
            subfolder = addresses[1]
            with MailClients(old).imap(subfolder, PASSWORD) as client:
                client.create_folder("Projects.2569")  # the previous version's separator was '.'
                client.append("Projects.2569", b"From: <a@example.org>\r\nSubject: plan\r\n\r\nplan\r\n")
            _run_previous(tree, env, "--data-dir", str(data_dir), "account", "delete", ORPHAN)
        finally:
            _run_previous(tree, env, "--data-dir", str(data_dir), "stack", "down")
        assert (data_dir / "mail" / "mig-a.go.th" / "staff0000" / "Maildir").is_dir()  # the old layout
        yield OldDataDir(data_dir, env, expected, subfolder)


@pytest.fixture
def copy_of(old_data_dir: OldDataDir) -> Iterator[Settings]:
    """The previous version's data directory as it left it, for one test to upgrade. It is
    upgraded where it was made (slapd's cn=config names its own paths) and put back from a
    pristine copy for the next test."""
    pristine = old_data_dir.path.with_name("pristine")
    if not pristine.exists():  # cp -a: the mail user owns the mailboxes
        subprocess.run(["cp", "-a", str(old_data_dir.path), str(pristine)], check=True)
    else:
        shutil.rmtree(old_data_dir.path)
        subprocess.run(["cp", "-a", str(pristine), str(old_data_dir.path)], check=True)
    # The previous version had no auth policy service: its settings file names no port for it.
    # Nor rspamd and Redis (inbound protection, on by default now): free ports for them.
    settings = load_settings(data_dir=old_data_dir.path, environ={}).replace(
        auth_policy_port=int(old_data_dir.env["MAILGOTHAI_AUTH_POLICY_PORT"]),
        rspamd_port=free_port(), rspamd_controller_port=free_port(), redis_port=free_port())
    try:
        yield settings
    finally:
        manager.down(settings)


def _inbox_counts(settings: Settings) -> dict[str, int]:
    """Messages in every user's INBOX as Dovecot counts them (one doveadm for all users)."""
    done = subprocess.run(["doveadm", "-c", str(settings.dovecot_config), "-f", "tab", "mailbox", "status", "-A",
                           "messages", "INBOX"], capture_output=True, text=True, check=True)
    header, *rows = [line.split("\t") for line in done.stdout.splitlines() if line]
    records = [dict(zip((h.lower() for h in header), row, strict=False)) for row in rows]
    assert records and "username" in records[0], done.stdout[:500]
    return {r["username"]: int(r["messages"]) for r in records}


def _check_upgraded(settings: Settings, old: OldDataDir) -> None:
    assert not settings.legacy_mail_root.exists()
    counts = _inbox_counts(settings)
    assert {a: counts.get(a) for a in old.expected} == old.expected
    mail = MailClients(settings)
    with mail.imap(old.subfolder, PASSWORD) as client:
        assert client.select_folder("Projects/2569")[b"EXISTS"] == 1
        assert client.select_folder("INBOX")[b"EXISTS"] == old.expected[old.subfolder]
    with Services.open(settings, Actor("upgrade-test", Role.SUPERADMIN, origin="test")) as services:
        for address in list(old.expected)[::150]:  # each mailbox under its own id
            account = services.accounts.get(address)
            assert services.backends.mailboxes.exists(account.mailbox_id)
        kept = services.lifecycle.deleted("mig-a.go.th")
        assert [(r.email, r.deleted_by.startswith("upgrade")) for r in kept] == [(ORPHAN, True)]
        assert kept[0].size and kept[0].size > 0
        services.lifecycle.restore(ORPHAN)
        services.accounts.set_password(ORPHAN, PasswordInput(plain=PASSWORD), must_change=False)
    with mail.imap(ORPHAN, PASSWORD) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 1


def test_stack_up_moves_every_mailbox_of_the_previous_version(copy_of: Settings, old_data_dir: OldDataDir) -> None:
    settings = manager.up(copy_of).settings
    _check_upgraded(settings, old_data_dir)
    manager.down(settings)
    again = manager.up(settings).settings  # a second start has nothing to move
    assert _inbox_counts(again)[old_data_dir.subfolder] == old_data_dir.expected[old_data_dir.subfolder]


def test_a_migration_killed_half_way_is_finished_by_the_next_stack_up(copy_of: Settings,
                                                                      old_data_dir: OldDataDir) -> None:
    settings = copy_of
    root, legacy = settings.mailbox_root_path, settings.legacy_mail_root
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    env["MAILGOTHAI_AUTH_POLICY_PORT"] = str(settings.auth_policy_port)
    up = subprocess.Popen([sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(settings.data_dir),
                           "stack", "up"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def moved_now() -> int:
        return sum(1 for shard in root.iterdir() if shard.name != ".purging" for _ in shard.iterdir())

    moved = remaining = 0
    try:
        deadline = time.monotonic() + 120
        while up.poll() is None and time.monotonic() < deadline:
            if root.is_dir() and moved_now():
                up.send_signal(signal.SIGSTOP)  # frozen between two moves, then killed there
                moved, remaining = moved_now(), sum(1 for d in legacy.iterdir() for _ in d.iterdir())
                up.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
    finally:
        if up.poll() is None:
            up.kill()
        up.wait()
    assert moved > 0 and remaining > 0, (moved, remaining)  # killed half way
    assert up.returncode == -signal.SIGKILL

    upgraded = manager.up(settings).settings
    _check_upgraded(upgraded, old_data_dir)


def test_an_address_that_is_a_path_moves_nothing_from_outside_the_legacy_root(
        stack: Settings, services: Services, domain: str, tmp_path: Path) -> None:
    """'/' is valid in a local part: `/…/victim@D` made DATA/mail/D//…/victim, which pathlib
    reads as /…/victim, and the migration renamed that directory into the mailbox root. A
    legacy folder that is a symbolic link is not followed (nor moved) either."""
    victim = stack.data_dir.parent / "victim"  # stands for /etc: outside DATA/mail
    (victim / "ssh").mkdir(parents=True)
    (victim / "ssh" / "sshd_config").write_text("x")
    other = stack.data_dir.parent / "other"
    (other / "Maildir" / "cur").mkdir(parents=True)
    path_like, dotted = f"{victim}@{domain}", f"a/./b@{domain}"  # both accepted as addresses
    for address in (path_like, dotted, f"plain@{domain}"):
        services.accounts.add(address, PasswordInput(plain=PASSWORD))
    legacy = stack.legacy_mail_root
    try:
        (legacy / domain / "plain" / "Maildir" / "cur").mkdir(parents=True)
        (legacy / domain / "plain" / "Maildir" / "cur" / "1.M1.h:2,S").write_bytes(b"kept")
        os.symlink(other, legacy / domain / "linked")  # no account: would be adopted as an orphan
        settings = stack.replace(mailbox_root=str(tmp_path / "mailboxes"))
        done = mailbox_migration.migrate(settings)
        assert sorted(str(p.relative_to(victim)) for p in victim.rglob("*")) == ["ssh", "ssh/sshd_config"]
        assert (other / "Maildir" / "cur").is_dir() and (legacy / domain / "linked").is_symlink()
        mailboxes = Mailboxes(tmp_path / "mailboxes")
        moved = mailboxes.maildir(services.accounts.get(f"plain@{domain}").mailbox_id)
        assert (moved / "cur" / "1.M1.h:2,S").read_bytes() == b"kept"
        assert not mailboxes.exists(services.accounts.get(path_like).mailbox_id)
        assert not [p for p in (tmp_path / "mailboxes").rglob("*") if p.is_symlink()]
        assert done.moved == 1 and done.adopted == []
        assert any(path_like in item for item in done.left), done.left
        assert any(dotted in item for item in done.left), done.left
        assert any(str(legacy / domain / "linked") in item and "symbolic link" in item for item in done.left)
    finally:
        shutil.rmtree(legacy, ignore_errors=True)
