"""An account made with the CLI logs in over IMAP, and every status change is obeyed
at the next login (Dovecot's auth cache is on: the services must flush it)."""

from __future__ import annotations

import subprocess

import pytest

from mailgothai.services.registry import Services
from tests.conftest import Cli
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

PASSWORD = "Kh0ng-Dee!long"


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_cli_account_logs_in_and_every_status_change_applies(cli: Cli, domain: str,
                                                             mail: MailClients) -> None:
    email = f"somchai.s@{domain}"
    _ok(cli("account", "add", email, "--given-name", "สมชาย", "--password-stdin", stdin=PASSWORD + "\n"))

    assert mail.can_login(email, PASSWORD)
    assert mail.can_login(email.upper(), PASSWORD), "the login name is case-insensitive"
    assert not mail.can_login(email, PASSWORD + "x")
    assert not mail.can_login(email, "")
    assert mail.can_login(email, PASSWORD), "a wrong password must not spoil the right one"

    _ok(cli("account", "suspend", email))
    assert not mail.can_login(email, PASSWORD)

    _ok(cli("account", "activate", email))
    assert mail.can_login(email, PASSWORD)

    _ok(cli("account", "passwd", email, "--password-stdin", "--no-must-change", stdin="N3w-password-2\n"))
    assert not mail.can_login(email, PASSWORD)
    assert mail.can_login(email, "N3w-password-2")

    _ok(cli("account", "delete", email))
    assert not mail.can_login(email, "N3w-password-2")
    assert cli("account", "show", email).returncode == 1


def test_suspended_domain_refuses_its_users(cli: Cli, domain: str, services: Services,
                                            mail: MailClients) -> None:
    other_domain = services.domains.add(f"other-{domain}").name
    email, bystander = f"malee.t@{domain}", f"anan.k@{other_domain}"
    for address in (email, bystander):
        _ok(cli("account", "add", address, "--password-stdin", stdin=PASSWORD + "\n"))
    assert mail.can_login(email, PASSWORD)  # now in Dovecot's auth cache

    _ok(cli("domain", "suspend", domain))
    assert not mail.can_login(email, PASSWORD)
    assert mail.can_login(bystander, PASSWORD), "only the suspended domain's users are refused"
    shown = cli("account", "show", email, "--json")
    assert '"status": "active"' in shown.stdout, "the account itself stays active"

    _ok(cli("domain", "activate", domain))
    assert mail.can_login(email, PASSWORD)
