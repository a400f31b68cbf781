"""A hash imported from an older system ({SSHA}, {SSHA512}, {CRYPT}, argon2i) is marked
(mgtPasswordUpgrade) and replaced with argon2id at the account's next successful login:
over IMAP (Dovecot's post-login script), at a mail user's web login, and (in
tests/relay/test_password_upgrade.py) at SMTP AUTH. A wrong password changes nothing,
and only the account itself, only while the mark is there, may make that change."""

from __future__ import annotations

import csv
import fcntl
import subprocess
import time
from pathlib import Path

import ldap3
import pytest

from mailgothai.core.passwords import Argon2Params, hash_password, make_ssha, make_ssha512
from mailgothai.directory.layout import Layout
from mailgothai.services.auth import Authenticator
from mailgothai.services.login_budget import LoginBudget, rules_from
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import dovecot
from mailgothai.stack.dovecot import paths_for as dovecot_paths
from tests.conftest import Cli, stack_settings
from tests.integration.conftest import MailClients, argon2id_of, stored
from tests.integration.test_password_schemes import PASSWORD, _bind_ok, _ok, system_crypt

pytestmark = [pytest.mark.integration, pytest.mark.sql]


def wait_for_upgrade(settings: Settings, dn: str, seconds: float = 60) -> tuple[str, str | None]:
    """The IMAP upgrade runs in the background after the login: wait until it is written
    (or the time is up, and the caller's assertion shows what is stored)."""
    deadline = time.monotonic() + seconds
    now = stored(settings, dn)
    while now[1] is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        now = stored(settings, dn)
    return now


def script_log_when(settings: Settings, text: str, seconds: float = 60) -> str:
    """The post-login script's log once it holds `text` (or the time is up)."""
    path = dovecot_paths(settings).postlogin_log
    deadline = time.monotonic() + seconds
    while True:
        log = path.read_text(encoding="utf-8") if path.exists() else ""
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


def add_with_hash(cli: Cli, email: str, legacy: str) -> None:
    _ok(cli("account", "add", email, "--password-hash-stdin", stdin=legacy + "\n"))


LEGACY = {
    "ssha": lambda: make_ssha(PASSWORD),
    "ssha512": lambda: make_ssha512(PASSWORD),
    "crypt-sha512": lambda: system_crypt(PASSWORD, "$6$"),
}


@pytest.mark.parametrize("kind", list(LEGACY))
def test_a_legacy_hash_becomes_argon2id_at_the_first_imap_login(cli: Cli, domain: str, stack: Settings,
                                                                  layout: Layout, mail: MailClients,
                                                                  kind: str) -> None:
    email = f"imap-{kind}@{domain}"
    legacy = LEGACY[kind]()
    add_with_hash(cli, email, legacy)
    dn = layout.account(email)
    assert stored(stack, dn) == (legacy, "TRUE")

    assert mail.can_login(email, PASSWORD)
    password_hash, mark = wait_for_upgrade(stack, dn)
    assert f"password hash of {email} upgraded" in script_log_when(stack, f"password hash of {email}")
    assert mark is None
    assert password_hash.startswith(argon2id_of(stack)), password_hash
    assert mail.can_login(email, PASSWORD)
    assert not mail.can_login(email, PASSWORD + "x")
    assert _bind_ok(stack, dn, PASSWORD)


def userdb_fields(settings: Settings, user: str, password: str) -> dict[str, str]:
    """The user fields Dovecot has after a login (`doveadm auth login`): what the
    post-login script receives in its environment."""
    done = subprocess.run(["doveadm", "-c", str(settings.dovecot_config), "auth", "login", user, password],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    _, _, userdb = done.stdout.partition("userdb extra fields:")
    fields = (line.strip().partition("=") for line in userdb.splitlines() if "=" in line)
    return {name: value for name, _, value in fields}


def test_only_a_marked_account_hands_its_password_to_the_post_login_script(cli: Cli, domain: str,
                                                                            stack: Settings) -> None:
    legacy, modern = f"legacy@{domain}", f"modern@{domain}"
    add_with_hash(cli, legacy, make_ssha(PASSWORD))
    _ok(cli("account", "add", modern, "--password-stdin", stdin=PASSWORD + "\n"))
    assert userdb_fields(stack, legacy, PASSWORD)["mgt_upgrade_password"] == PASSWORD
    assert userdb_fields(stack, modern, PASSWORD).get("mgt_upgrade_password", "") == ""


def test_one_imap_upgrade_at_a_time_the_others_wait_for_a_later_login(cli: Cli, domain: str, stack: Settings,
                                                                      layout: Layout, mail: MailClients) -> None:
    """While an upgrade runs (its lock held), another marked login skips its own: the
    CPU an IMAP node spends on upgrades stays at one Python process at a time."""
    email = f"queued@{domain}"
    legacy = make_ssha(PASSWORD)
    add_with_hash(cli, email, legacy)
    dn = layout.account(email)
    lock_path = dovecot_paths(stack).postlogin_lock
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert mail.can_login(email, PASSWORD)
        time.sleep(3)  # what a skipped upgrade would have needed to show up (a real one takes < 1 s)
        assert stored(stack, dn) == (legacy, "TRUE")
    assert mail.can_login(email, PASSWORD)  # the lock is free: this login upgrades
    password_hash, mark = wait_for_upgrade(stack, dn)
    assert mark is None and password_hash.startswith(argon2id_of(stack))


def test_a_wrong_password_upgrades_nothing(cli: Cli, domain: str, stack: Settings, layout: Layout,
                                           mail: MailClients) -> None:
    email = f"wrong@{domain}"
    legacy = make_ssha(PASSWORD)
    add_with_hash(cli, email, legacy)
    dn = layout.account(email)
    assert not mail.can_login(email, "not-" + PASSWORD)
    # The command Dovecot's script runs binds as the account: a wrong password is refused.
    out = _ok(cli("account", "upgrade-hash", email, stdin="not-" + PASSWORD)).stdout
    assert "left as it is" in out
    assert stored(stack, dn) == (legacy, "TRUE")


def test_a_new_password_ends_a_pending_upgrade(cli: Cli, domain: str, stack: Settings, layout: Layout,
                                               mail: MailClients) -> None:
    email = f"renewed@{domain}"
    add_with_hash(cli, email, make_ssha(PASSWORD))
    _ok(cli("account", "passwd", email, "--password-stdin", "--no-must-change", stdin="Brand-new-pass-2\n"))
    password_hash, mark = stored(stack, layout.account(email))
    assert mark is None and password_hash.startswith(argon2id_of(stack))
    # The old password neither logs in nor, through the upgrade command, writes anything.
    assert "left as it is" in _ok(cli("account", "upgrade-hash", email, stdin=PASSWORD)).stdout
    assert not mail.can_login(email, PASSWORD)
    assert mail.can_login(email, "Brand-new-pass-2")
    # Dovecot hands the password to the post-login script only while the mark is there.
    assert userdb_fields(stack, email, "Brand-new-pass-2").get("mgt_upgrade_password", "") == ""


def test_a_web_login_upgrades_the_account(cli: Cli, domain: str, stack: Settings, layout: Layout,
                                          services: Services, mail: MailClients) -> None:
    email = f"web@{domain}"
    add_with_hash(cli, email, make_ssha512(PASSWORD))
    auth = Authenticator(services.backends, LoginBudget(services.backends.store, rules_from(stack)))

    assert not auth.user(email, PASSWORD + "x", "127.0.0.1").ok
    assert stored(stack, layout.account(email))[1] == "TRUE"
    assert auth.user(email, PASSWORD, "127.0.0.1").ok

    password_hash, mark = stored(stack, layout.account(email))
    assert mark is None and password_hash.startswith(argon2id_of(stack)), password_hash
    assert auth.user(email, PASSWORD, "127.0.0.1").ok
    assert mail.can_login(email, PASSWORD)


def _as(settings: Settings, dn: str, password: str) -> ldap3.Connection:
    return ldap3.Connection(ldap3.Server(settings.host, port=settings.ldap_port, get_info=ldap3.NONE),
                            user=dn, password=password, auto_bind=True, raise_exceptions=False)


def test_only_the_marked_entry_itself_may_replace_its_hash(cli: Cli, domain: str, stack: Settings,
                                                          layout: Layout) -> None:
    marked, plain, other = (f"{n}@{domain}" for n in ("marked", "plain", "other"))
    add_with_hash(cli, marked, make_ssha(PASSWORD))
    add_with_hash(cli, other, make_ssha(PASSWORD))
    _ok(cli("account", "add", plain, "--password-stdin", stdin=PASSWORD + "\n"))
    before = {email: stored(stack, layout.account(email)) for email in (marked, plain, other)}
    weak = make_ssha("weak")

    # An account without the mark may not write its own hash (a weak one, say) ...
    conn = _as(stack, layout.account(plain), PASSWORD)
    assert not conn.modify(layout.account(plain), {"userPassword": [(ldap3.MODIFY_REPLACE, [weak])]})
    assert conn.result["description"] == "insufficientAccessRights"
    conn.unbind()
    # ... a marked one may not write another's, nor any other attribute of its own ...
    conn = _as(stack, layout.account(marked), PASSWORD)
    assert not conn.modify(layout.account(other), {"mgtPasswordUpgrade": [(ldap3.MODIFY_DELETE, ["TRUE"])],
                                                   "userPassword": [(ldap3.MODIFY_REPLACE, [weak])]})
    assert conn.result["description"] == "insufficientAccessRights"
    assert not conn.modify(layout.account(marked), {"mgtQuota": [(ldap3.MODIFY_REPLACE, ["1"])]})
    assert conn.result["description"] == "insufficientAccessRights"
    # ... nor read its own hash.
    conn.search(layout.account(marked), "(objectClass=*)", ldap3.BASE, attributes=["userPassword"])
    assert not any(item.get("raw_attributes", {}).get("userPassword") for item in conn.response or [])
    conn.unbind()
    assert {email: stored(stack, layout.account(email)) for email in before} == before


def test_an_import_marks_exactly_its_legacy_hashes(cli: Cli, domain: str, stack: Settings, layout: Layout,
                                                   tmp_path: Path) -> None:
    argon2id = hash_password(PASSWORD, Argon2Params(1, 1024, 1))
    rows = {"old": make_ssha(PASSWORD), "crypt": system_crypt(PASSWORD, "$6$"), "new": argon2id}
    csv_file = tmp_path / "staff.csv"
    with open(csv_file, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("email", "password"), *((f"{n}@{domain}", h) for n, h in rows.items())])
    _ok(cli("import", str(csv_file)))
    assert stored(stack, layout.account(f"old@{domain}")) == (rows["old"], "TRUE")
    assert stored(stack, layout.account(f"crypt@{domain}")) == (rows["crypt"], "TRUE")
    assert stored(stack, layout.account(f"new@{domain}")) == (argon2id, None)


@pytest.mark.parametrize("upgrade", [1, 0])
def test_imap_upgrades_can_be_turned_off_once_no_hash_is_marked(fresh_data_dir: Path, upgrade: int) -> None:
    """imap_upgrade_hashes = 0 leaves the post-login script, and the password field it
    would read, out of Dovecot's configuration (which Dovecot still accepts)."""
    settings = stack_settings(fresh_data_dir, imap_upgrade_hashes=upgrade)
    paths = dovecot.write_config(settings)
    checked = subprocess.run(["doveconf", "-c", str(paths.config), "-n"], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stderr
    passdb = (paths.root / "ldap-passdb.conf.ext").read_text(encoding="utf-8")
    assert ("executable = imap imap-postlogin" in checked.stdout) is bool(upgrade)
    assert ("userdb_mgt_upgrade_password" in passdb) is bool(upgrade)
