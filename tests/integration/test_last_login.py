"""Issue 17 item 5: the last login of each account, recorded by the processes that see
logins — IMAP through the stack's real Dovecot (its auth policy reports to `mailgothai
auth-policy run`), SMTP AUTH through the stack's real relay, the web through the stack's
own `mailgothai serve` — in batches, and shown by `account show`; the inactive report of
`account list D --inactive-days N`; a deleted-and-reused address inheriting nothing.

The processes write their batches every `last_login_flush` seconds (5): a test waits for
the row to appear (polling, never asserting how long it took)."""

from __future__ import annotations

import contextlib
import imaplib
import json
import smtplib
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mailgothai.core.last_login import LastLogin, Owner
from mailgothai.core.models import Status
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.store import Store
from mailgothai.store.last_login import LastLogins
from tests.conftest import Cli
from tests.relay.helpers import tls_client_context

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PASSWORD = "Last-login-pass-1"
WAIT = 120.0  # seconds a test waits at most for a batch (the processes flush every 5)


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def shown(cli: Cli, address: str) -> dict[str, object] | None:
    return json.loads(ok(cli("account", "show", address, "--json")).stdout)["last_login"]  # type: ignore[no-any-return]


def wait_for_login(cli: Cli, address: str, protocol: str) -> dict[str, object]:
    deadline = time.monotonic() + WAIT
    while True:
        last = shown(cli, address)
        if last is not None and last["protocol"] == protocol:
            return last
        assert time.monotonic() < deadline, f"no {protocol} login of {address} recorded; shown: {last}"
        time.sleep(0.5)


def add(services: Services, address: str) -> str:
    services.accounts.add(address, PasswordInput(plain=PASSWORD))
    return services.accounts.get(address).mailbox_id


def imap_login(settings: Settings, user: str, password: str) -> bool:
    client = imaplib.IMAP4(settings.host, settings.imap_port, timeout=60)
    try:
        client.starttls(ssl_context=tls_client_context())
        client.login(user, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def smtp_auth(settings: Settings, user: str, password: str) -> int:
    with smtplib.SMTP(settings.host, settings.submission_port, timeout=60) as client:
        client.ehlo("client.test")
        client.starttls(context=tls_client_context())
        client.ehlo("client.test")
        try:
            client.login(user, password)
            return 235
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code


def web_login(settings: Settings, user: str, password: str) -> int:
    with httpx.Client(base_url=f"http://{settings.host}:{settings.web_port}", timeout=60,
                      headers={"Accept-Language": "en"}) as web:
        page = web.get("/mail/login")
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        return web.post("/mail/login", data={"email": user, "password": password, "csrf_token": csrf}).status_code


def test_an_imap_login_is_the_accounts_last_login_and_a_failed_one_is_not(
        stack: Settings, services: Services, domain: str, cli: Cli) -> None:
    user, other = f"somchai@{domain}", f"malee@{domain}"
    add(services, user)
    add(services, other)
    assert shown(cli, user) is None
    assert "last_login: never" in ok(cli("account", "show", user)).stdout

    assert imap_login(stack, other, "wrong password") is False
    assert imap_login(stack, user, PASSWORD) is True

    last = wait_for_login(cli, user, "imap")
    assert last["source"] == "127.0.0.1"
    assert datetime.fromisoformat(str(last["at"])) > datetime.now(UTC) - timedelta(minutes=10)
    assert "imap from 127.0.0.1" in ok(cli("account", "show", user)).stdout
    assert shown(cli, other) is None  # the failed login was flushed with it (same batch or before) and not kept


def test_an_smtp_auth_login_to_the_relay_is_recorded_and_a_refused_one_is_not(
        stack: Settings, services: Services, domain: str, cli: Cli) -> None:
    user, other = f"sender@{domain}", f"guessed@{domain}"
    add(services, user)
    add(services, other)
    assert smtp_auth(stack, other, "wrong password") == 535
    assert smtp_auth(stack, user, PASSWORD) == 235
    last = wait_for_login(cli, user, "smtp")
    assert last["source"] == "127.0.0.1"
    assert shown(cli, other) is None


def test_a_web_login_of_the_stacks_own_web_is_recorded(
        stack: Settings, services: Services, domain: str, cli: Cli) -> None:
    user, other = f"webuser@{domain}", f"webguess@{domain}"
    add(services, user)
    add(services, other)
    assert web_login(stack, other, "wrong password") == 401
    assert web_login(stack, user, PASSWORD) == 303
    last = wait_for_login(cli, user, "web")
    assert last["source"] == "127.0.0.1"
    assert shown(cli, other) is None


def _write(settings: Settings, mailbox_id: str, address: str, domain: str, when: datetime | None) -> None:
    """Move the clock: an account's last login written straight through the store."""
    store = Store.open(settings.sql_url_effective)
    try:
        LastLogins(store).set_seen(mailbox_id, Owner(mailbox_id, address, domain),
                                   LastLogin(when, "imap", "192.0.2.7") if when else None)
    finally:
        store.close()


def test_the_inactive_report_lists_the_never_logged_in_and_the_long_inactive_not_the_active(
        stack: Settings, services: Services, domain: str, cli: Cli) -> None:
    never, old, recent = f"never@{domain}", f"old@{domain}", f"recent@{domain}"
    ids = {a: add(services, a) for a in (never, old, recent)}
    now = datetime.now(UTC)
    _write(stack, ids[old], old, domain, now - timedelta(days=200))
    _write(stack, ids[recent], recent, domain, now - timedelta(days=3))

    report = ok(cli("account", "list", domain, "--inactive-days", "90")).stdout
    rows = [line.split("\t") for line in report.splitlines()]
    assert [r[0] for r in rows] == [never, old]  # never-logged-in first, then the oldest
    assert rows[0][1] == "never"
    assert rows[1][1].startswith((now - timedelta(days=200)).strftime("%Y-%m-%d")) and rows[1][2:] == ["imap",
                                                                                                       "192.0.2.7"]
    listed = json.loads(ok(cli("account", "list", domain, "--inactive-days", "90", "--json")).stdout)
    assert [(i["address"], i["last_login"] and i["last_login"]["protocol"]) for i in listed] == [
        (never, None), (old, "imap")]
    # Over a shorter period the recent one is inactive too.
    assert [line.split("\t")[0] for line in ok(cli("account", "list", domain, "--inactive-days", "1")).stdout
            .splitlines()] == [never, old, recent]
    bad = cli("account", "list", domain, "--inactive-days", "0")
    assert bad.returncode == 2 and "inactive_days" in bad.stderr


def test_a_deleted_and_reused_address_inherits_no_last_login_and_a_rename_keeps_it(
        stack: Settings, services: Services, domain: str, cli: Cli) -> None:
    address, renamed = f"leaver@{domain}", f"moved@{domain}"
    first = add(services, address)
    _write(stack, first, address, domain, datetime.now(UTC) - timedelta(days=1))
    assert shown(cli, address) is not None
    services.accounts.delete(address)
    second = add(services, address)
    assert second != first
    assert shown(cli, address) is None
    assert [line.split("\t")[0] for line in ok(cli("account", "list", domain, "--inactive-days", "30")).stdout
            .splitlines()] == [address]  # the old account is not listed under its address

    _write(stack, second, address, domain, datetime.now(UTC) - timedelta(days=2))
    ok(cli("account", "rename", address, renamed))
    last = shown(cli, renamed)
    assert last is not None and last["source"] == "192.0.2.7"


def test_an_imap_login_by_an_alias_domain_name_is_the_accounts_last_login(
        stack: Settings, services: Services, domain: str, cli: Cli) -> None:
    alias = f"renamed-{domain}"
    services.domain_routing.add_alias_domain(alias, domain)
    add(services, f"pranee@{domain}")
    assert imap_login(stack, f"pranee@{alias}", PASSWORD) is True
    assert wait_for_login(cli, f"pranee@{domain}", "imap")["source"] == "127.0.0.1"


def test_the_rows_are_matched_in_full_only_when_the_set_of_accounts_changed(
        services: Services, domain: str, cli: Cli) -> None:
    logins = services.last_login
    add(services, f"one@{domain}")
    assert logins.ensure_synced(services.domains.get(domain)) == "full"  # first: every account gets its row
    assert logins.ensure_synced(services.domains.get(domain)) == "current"
    services.accounts.set_status(f"one@{domain}", Status.DISABLED)  # audited, the accounts the same
    assert logins.ensure_synced(services.domains.get(domain)) == "stamp"
    add(services, f"two@{domain}")
    assert [line.split("\t")[0] for line in ok(cli("account", "list", domain, "--inactive-days", "1")).stdout
            .splitlines()] == [f"one@{domain}", f"two@{domain}"]  # the new account was matched in full
    assert logins.ensure_synced(services.domains.get(domain)) == "current"
    services.accounts.delete(f"one@{domain}")  # its row goes with it: the rows still number the accounts
    assert logins.ensure_synced(services.domains.get(domain)) == "stamp"
    assert [line.split("\t")[0] for line in ok(cli("account", "list", domain, "--inactive-days", "1")).stdout
            .splitlines()] == [f"two@{domain}"]
