"""Out-of-office replies (issue 17) through the CLI and the service: set, shown, turned
off; each bad input named by its field with nothing stored; who may reach which account;
an audit record for each change. The replies themselves: tests/relay/test_vacation_replies.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.core.thai_time import today_in_thailand
from mailgothai.core.vacation import MAX_MESSAGE
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.mailstore.paths import paths_for
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.vacation import VacationService
from mailgothai.settings import Settings
from tests.conftest import Cli

pytestmark = pytest.mark.integration

PASSWORD = "Vacation-cli-2026"
SUBJECT = "ไม่อยู่ที่สำนักงาน"
TEXT = "ขณะนี้ไม่อยู่ \"ครับ\" \\ กลับวันจันทร์\nBack on Monday.\n"


@pytest.fixture
def backends(stack: Settings) -> Iterator[Backends]:
    opened = Backends.open(stack)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def user(cli: Cli, domain: str) -> str:
    email = f"leaver@{domain}"
    assert cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    return email


@pytest.fixture
def message_file(tmp_path: Path) -> Path:
    path = tmp_path / "message.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def show(cli: Cli, email: str) -> dict[str, object]:
    done = cli("vacation", "show", email, "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, object] = json.loads(done.stdout)
    return data


def user_scripts(settings: Settings, email: str) -> str:
    return subprocess.run(["doveadm", "-c", str(paths_for(settings).config), "sieve", "list", "-u", email],
                          capture_output=True, text=True, check=True).stdout


def test_set_show_and_off_with_the_cli(stack: Settings, cli: Cli, user: str, message_file: Path) -> None:
    assert show(cli, user)["enabled"] is False
    start, end = today_in_thailand(), today_in_thailand() + timedelta(days=14)
    done = cli("vacation", "set", user, "--subject", SUBJECT, "--message-file", str(message_file),
               "--start", start.isoformat(), "--end", end.isoformat(), "--days", "3")
    assert done.returncode == 0, done.stderr
    assert SUBJECT in done.stdout and "replying today" in done.stdout
    shown = show(cli, user)
    assert shown == {"email": user, "enabled": True, "replying_today": True, "subject": SUBJECT, "message": TEXT,
                     "start": start.isoformat(), "end": end.isoformat(), "reply_days": 3, "addresses": [user]}
    assert user_scripts(stack, user).strip() == ""  # nothing among the scripts a ManageSieve client sees

    done = cli("vacation", "off", user)
    assert done.returncode == 0 and "turned off" in done.stdout
    assert show(cli, user)["enabled"] is False
    assert "had no out-of-office reply" in cli("vacation", "off", user).stdout


def test_a_start_in_the_future_is_set_but_not_replying_today(cli: Cli, user: str, message_file: Path) -> None:
    start = today_in_thailand() + timedelta(days=3)
    done = cli("vacation", "set", user, "--subject", "Away", "--message-file", str(message_file),
               "--start", start.isoformat())
    assert done.returncode == 0, done.stderr
    shown = show(cli, user)
    assert shown["enabled"] is True and shown["replying_today"] is False and shown["end"] is None


@pytest.mark.parametrize(("options", "field"), [
    (["--start", "2027-01-10", "--end", "2027-01-09"], "end"),
    (["--start", "10/01/2027"], "start"),
    (["--end", "2020-01-01"], "end"),
    (["--subject", "   "], "subject"),
    (["--subject", "two\nlines"], "subject"),
    (["--days", "0"], "reply_days"),
    (["--days", "31"], "reply_days"),
])
def test_bad_input_names_its_field_and_stores_nothing(cli: Cli, user: str, message_file: Path,
                                                      options: list[str], field: str) -> None:
    args = {"--subject": "Away"}
    args.update(dict(zip(options[::2], options[1::2], strict=True)))
    done = cli("vacation", "set", user, "--message-file", str(message_file),
               *[part for pair in args.items() for part in pair])
    assert done.returncode != 0
    assert f"{field}:" in done.stderr, done.stderr
    assert show(cli, user)["enabled"] is False


@pytest.mark.parametrize(("text", "why"), [("", "is empty"), ("  \n\n", "is empty"),
                                           ("x" * (MAX_MESSAGE + 1), "longer than")])
def test_an_empty_or_too_long_message_is_refused(cli: Cli, user: str, tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "m.txt"
    path.write_text(text, encoding="utf-8")
    done = cli("vacation", "set", user, "--subject", "Away", "--message-file", str(path))
    assert done.returncode != 0 and "message:" in done.stderr and why in done.stderr, done.stderr
    assert show(cli, user)["enabled"] is False


def test_a_bad_input_leaves_the_reply_that_was_set(cli: Cli, user: str, message_file: Path) -> None:
    assert cli("vacation", "set", user, "--subject", "First", "--message-file", str(message_file)).returncode == 0
    done = cli("vacation", "set", user, "--subject", "Second", "--message-file", str(message_file),
               "--start", "2027-02-02", "--end", "2027-02-01")
    assert done.returncode != 0
    assert show(cli, user)["subject"] == "First"


def test_a_domain_admin_reaches_only_accounts_of_their_domains(backends: Backends, user: str, domain: str) -> None:
    theirs = VacationService(backends, Actor("admin-x", Role.DOMAIN_ADMIN, frozenset({domain}), origin="test"))
    assert theirs.set(user, subject="Left the agency", message="Write to the director.").replying
    outsider = VacationService(backends, Actor("admin-y", Role.DOMAIN_ADMIN, frozenset({"other.go.th"}),
                                               origin="test"))
    with pytest.raises(NotFound):
        outsider.show(user)
    with pytest.raises(NotFound):
        outsider.off(user)
    with pytest.raises(NotFound):
        VacationService.of_user(backends, f"someone.else@{domain}").show(user)
    mine = VacationService.of_user(backends, user)
    assert mine.show(user).vacation is not None
    assert mine.off(user)
    entries = backends.audit.query(object_id=user)
    assert [(e.actor, e.action) for e in entries][:2] == [(user, "account.vacation.off"),
                                                          ("admin-x", "account.vacation.set")]


def test_the_service_refuses_end_before_start_naming_end(backends: Backends, user: str) -> None:
    service = VacationService.of_user(backends, user)
    with pytest.raises(InvalidInput) as caught:
        service.set(user, subject="Away", message="Away", start="2027-03-10", end="2027-03-01")
    assert caught.value.field == "end"
    assert service.show(user).vacation is None
    assert backends.audit.query(object_id=user, action="account.vacation.set") == []
