"""Issue 20, change at next login and expiry, against the stack's real slapd, Dovecot,
relay and web: a mark in the directory (mgtMustChangePassword) makes IMAP (Dovecot's
passdb: nologin with a reason) and SMTP AUTH (the relay) refuse the right password with a
text that says where to change it, and the web let the user reach only the change page;
after the user's own change the new password works everywhere and the mark is gone. An
admin's reset and an import with "change at next login" set the mark; the expiry job
(`mailgothai password-expiry run`, its clock given) warns once through the relay and marks
an expired password."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import json
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mailgothai.cli.password_lifecycle import relay_sender
from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.imports import ImportService
from mailgothai.services.password_lifecycle import PasswordExpiry, PasswordLifecycleService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack import manager
from tests.conftest import stack_data_dir, stack_settings
from tests.relay.helpers import inbox_subjects, tls_client_context

pytestmark = [pytest.mark.integration, pytest.mark.sql]

FIRST = "Lamp-river-Kx7-93"
NEW = "Orchid-Tugboat-58q"
OPERATOR = Actor("test-setup", Role.SUPERADMIN, origin="test")
URL = "https://mail.example.go.th/me"


@pytest.fixture(scope="module")
def stack() -> Iterator[Settings]:
    with stack_data_dir("pwlife") as data_dir:
        state = manager.up(stack_settings(data_dir, password_change_url=URL))
        try:
            yield state.settings
        finally:
            manager.down(state.settings)


def new_domain(settings: Settings) -> str:
    domain = f"p{uuid.uuid4().hex[:8]}.go.th"
    with Services.open(settings, OPERATOR) as svc:
        svc.domains.add(domain, description="test")
    return domain


def imap_login(settings: Settings, user: str, password: str) -> str:
    """"OK", or the text of Dovecot's refusal."""
    client = imaplib.IMAP4(settings.host, settings.imap_port, timeout=60)
    try:
        client.starttls(ssl_context=tls_client_context())
        client.login(user, password)
        return "OK"
    except imaplib.IMAP4.error as exc:
        return str(exc)
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def smtp_auth(settings: Settings, user: str, password: str) -> tuple[int, str]:
    with smtplib.SMTP(settings.host, settings.submission_port, timeout=60) as client:
        client.ehlo("client.test")
        client.starttls(context=tls_client_context())
        client.ehlo("client.test")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, text = client.docmd("AUTH", f"PLAIN {token}")
        return code, text.decode()


def web(settings: Settings) -> httpx.Client:
    return httpx.Client(base_url=f"http://{settings.host}:{settings.web_port}", timeout=60,
                        headers={"Accept-Language": "en"})


def csrf_of(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def web_login(client: httpx.Client, user: str, password: str) -> httpx.Response:
    form = client.get("/mail/login")
    return client.post("/mail/login", data={"email": user, "password": password, "csrf_token": csrf_of(form.text)})


def marked(settings: Settings, user: str) -> bool:
    with Services.open(settings, OPERATOR) as svc:
        return svc.accounts.get(user).must_change_password


def assert_refused_everywhere(settings: Settings, user: str, password: str) -> None:
    text = imap_login(settings, user, password)
    assert "Password change required" in text and URL in text, text
    code, reply = smtp_auth(settings, user, password)
    assert code == 535 and "5.7.8" in reply and URL in reply, (code, reply)


def test_change_at_first_login_over_imap_smtp_and_web_then_the_new_password_everywhere(stack: Settings) -> None:
    settings = stack
    user = f"somchai@{new_domain(settings)}"
    with Services.open(settings, OPERATOR) as svc:
        created = svc.accounts.add(user, PasswordInput(generate=True), given_name="สมชาย")
    first = created.generated_password
    assert first is not None and marked(settings, user)  # the domain's default: generated -> change at first login

    assert_refused_everywhere(settings, user, first)
    wrong = imap_login(settings, user, "Not-the-password-1")  # a wrong password learns nothing of the mark
    assert "Password change required" not in wrong and URL not in wrong
    assert smtp_auth(settings, user, "Not-the-password-1")[1].find(URL) == -1

    with web(settings) as client:
        login = web_login(client, user, first)
        assert login.status_code == 303
        page = client.get("/me", follow_redirects=True)
        assert "must be changed before you can read or send mail" in page.text
        other = client.get("/me/filters")  # any other page leads back to the change page
        assert other.status_code == 303 and other.headers["location"].startswith("/me?notice=must-change")
        changed = client.post("/me/password", data={
            "current_password": first, "new_password": NEW, "new_password_repeat": NEW,
            "csrf_token": csrf_of(page.text)})
        assert changed.status_code == 303 and "own-password" in changed.headers["location"]
        assert client.get("/me/filters").status_code == 200

    assert not marked(settings, user)
    assert imap_login(settings, user, NEW) == "OK"
    assert smtp_auth(settings, user, NEW)[0] == 235
    assert imap_login(settings, user, first) != "OK"


def test_an_admin_reset_marks_the_account_and_imap_sees_it_at_once(stack: Settings) -> None:
    settings = stack
    user = f"malee@{new_domain(settings)}"
    with Services.open(settings, OPERATOR) as svc:
        svc.accounts.add(user, PasswordInput(plain=FIRST))
    assert not marked(settings, user)  # a chosen password: the domain's default does not mark it
    assert imap_login(settings, user, FIRST) == "OK"  # now in Dovecot's auth cache
    assert smtp_auth(settings, user, FIRST)[0] == 235  # and in the relay's
    with Services.open(settings, OPERATOR) as svc:
        svc.accounts.set_password(user, PasswordInput(plain=NEW))
    assert marked(settings, user)
    text = imap_login(settings, user, NEW)
    assert "Password change required" in text and URL in text
    code, reply = smtp_auth(settings, user, NEW)
    assert code == 535 and URL in reply


def test_an_import_with_change_at_next_login_marks_every_account_it_creates(stack: Settings, tmp_path: Path) -> None:
    settings = stack
    domain = new_domain(settings)
    users = [f"user{n}@{domain}" for n in range(3)]
    csv = tmp_path / "staff.csv"
    csv.write_text("email,password\n" + "".join(f"{u},{FIRST}\n" for u in users), encoding="utf-8")
    with Services.open(settings, OPERATOR) as svc:
        summary = ImportService(svc.backends, svc.actor).run_file(csv, must_change=True)
        assert summary.created == 3, summary
    assert all(marked(settings, u) for u in users)
    assert_refused_everywhere(settings, users[0], FIRST)


def test_expiry_warns_once_through_the_relay_then_marks_the_expired_password(stack: Settings) -> None:
    settings = stack
    domain = new_domain(settings)
    user = f"kanya@{domain}"
    with Services.open(settings, OPERATOR) as svc:
        svc.accounts.add(user, PasswordInput(plain=FIRST))
        PasswordLifecycleService(svc.backends, svc.actor).set(domain, {"max_age_days": "30", "warn_days": "7"},
                                                              datetime.now(UTC))
        job = PasswordExpiry(svc.backends, relay_sender(settings))
        now = datetime.now(UTC)
        early = job.run(now + timedelta(days=20))  # not yet within the warning's days
        assert user not in early.warned and user not in early.marked
        first = job.run(now + timedelta(days=25))
        again = job.run(now + timedelta(days=26))  # the job runs again: the warning is not sent twice
        assert first.warned == [user] and first.failed == []
        assert user not in again.warned
    # Delivered through the relay into the mailbox, once.
    deadline = time.monotonic() + 600  # delivery is the relay's queue: wait for it
    subjects: list[str] = []
    while time.monotonic() < deadline:
        subjects = [s for s in inbox_subjects(settings, user, FIRST) if "expires" in s]
        if subjects:
            break
        time.sleep(0.5)
    assert len(subjects) == 1, subjects
    assert not marked(settings, user)

    with Services.open(settings, OPERATOR) as svc:
        late = PasswordExpiry(svc.backends, relay_sender(settings)).run(datetime.now(UTC) + timedelta(days=31))
    assert late.marked == [user]
    assert marked(settings, user)
    assert_refused_everywhere(settings, user, FIRST)




def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(settings.data_dir), *args],
                          capture_output=True, text=True, timeout=600, check=False)


def test_a_renamed_account_is_not_warned_twice_for_the_same_expiry(stack: Settings) -> None:
    from mailgothai.services.lifecycle import LifecycleService

    domain = new_domain(stack)
    user, renamed = f"pranee@{domain}", f"pranee.s@{domain}"
    sent: list[str] = []
    with Services.open(stack, OPERATOR) as svc:
        svc.accounts.add(user, PasswordInput(plain=FIRST))
        PasswordLifecycleService(svc.backends, svc.actor).set(domain, {"max_age_days": "30", "warn_days": "7"},
                                                              datetime.now(UTC))
        job = PasswordExpiry(svc.backends, lambda email, message: sent.append(email))
        now = datetime.now(UTC)
        assert job.run(now + timedelta(days=25)).warned == [user]
        LifecycleService(svc.backends, svc.actor).rename(user, renamed)
        assert renamed not in job.run(now + timedelta(days=26)).warned
        svc.accounts.delete(renamed)  # a newcomer at the address is warned for its own password
        svc.accounts.add(renamed, PasswordInput(plain=FIRST))
        assert job.run(now + timedelta(days=26)).warned == [renamed]
    assert sent == [user, renamed]


def test_the_commands_the_operator_and_the_timer_run(stack: Settings) -> None:
    settings = stack
    domain = new_domain(settings)
    user = f"somsak@{domain}"
    with Services.open(settings, OPERATOR) as svc:
        svc.accounts.add(user, PasswordInput(plain=FIRST))
    bad = run_cli(settings, "password-lifecycle", "set", "--domain", domain, "--max-age-days", "soon")
    assert bad.returncode == 2 and "max_age_days" in bad.stderr
    done = run_cli(settings, "password-lifecycle", "set", "--domain", domain, "--max-age-days", "60", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["max_age_days"] == 60
    later = (datetime.now(UTC) + timedelta(days=61)).isoformat()
    ran = run_cli(settings, "password-expiry", "run", "--now", later, "--json")
    assert ran.returncode == 0, ran.stderr
    assert user in json.loads(ran.stdout)["marked"]
    assert marked(settings, user)
    assert "Password change required" in imap_login(settings, user, FIRST)
