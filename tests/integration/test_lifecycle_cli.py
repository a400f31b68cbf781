"""`mailgothai account delete | deleted list | restore | handover | rename | hold | release`,
`domain hold | release | set --retention-days` and `purge`, run as the real command: what
an operator reads, and the exit codes of bad input (2) and of missing or taken objects (1)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import Cli
from tests.integration.conftest import AuditProbe, MailClients

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PASSWORD = "Cli-lifecycle-pw1"


def ok(result):  # type: ignore[no-untyped-def]
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return result


@pytest.fixture
def cli_domain(cli: Cli) -> str:
    name = f"c{uuid.uuid4().hex[:10]}.go.th"
    ok(cli("domain", "add", name, "--retention-days", "14"))
    return name


def test_delete_list_restore_handover_rename_from_the_command_line(cli: Cli, cli_domain: str,
                                                                   mail: MailClients) -> None:
    old, heir = f"saraban@{cli_domain}", f"saraban.new@{cli_domain}"
    for address in (old, heir):
        ok(cli("account", "add", address, "--password-stdin", stdin=PASSWORD + "\n"))
    mail.deliver(old, b"Subject: order 1\r\n\r\norder\r\n")

    deleted = ok(cli("account", "delete", old)).stdout
    mailbox_id = json.loads(ok(cli("account", "deleted", "list", cli_domain, "--json")).stdout)[0]["mailbox_id"]
    assert mailbox_id in deleted and "kept until" in deleted
    listed = json.loads(ok(cli("account", "deleted", "show", mailbox_id, "--json")).stdout)
    assert listed["address"] == old and listed["deleted_by"].startswith("cli:") and listed["size"] > 0
    assert listed["purge_after"][:10] > listed["deleted_at"][:10]

    handed = ok(cli("account", "handover", old, "--to", heir)).stdout
    assert f"Archive/{old}" in handed and "1 messages" in handed
    with mail.imap(heir, PASSWORD) as client:
        assert client.select_folder(f"Archive/{old}/INBOX")[b"EXISTS"] == 1

    ok(cli("account", "restore", mailbox_id, "--as", f"saraban.2568@{cli_domain}"))
    with mail.imap(f"saraban.2568@{cli_domain}", PASSWORD) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 1
    ok(cli("account", "rename", f"saraban.2568@{cli_domain}", f"archive.2568@{cli_domain}", "--keep-old-as-alias"))
    shown = json.loads(ok(cli("account", "show", f"archive.2568@{cli_domain}", "--json")).stdout)
    assert shown["aliases"] == [f"saraban.2568@{cli_domain}"] and shown["mailbox_id"] == mailbox_id


def test_holds_and_purge_from_the_command_line(cli: Cli, cli_domain: str, audit: AuditProbe) -> None:
    address = f"held@{cli_domain}"
    ok(cli("account", "add", address, "--password-stdin", stdin=PASSWORD + "\n"))
    ok(cli("account", "hold", address, "--reason", "คดีที่ 7/2569"))
    assert json.loads(ok(cli("account", "show", address, "--json")).stdout)["hold_reason"] == "คดีที่ 7/2569"
    ok(cli("account", "delete", address))
    mailbox_id = json.loads(ok(cli("account", "deleted", "list", cli_domain, "--json")).stdout)[0]["mailbox_id"]
    ok(cli("domain", "hold", cli_domain, "--reason", "inquiry 3/2569"))
    assert json.loads(ok(cli("domain", "show", cli_domain, "--json")).stdout)["hold_reason"] == "inquiry 3/2569"
    dry = json.loads(ok(cli("purge", "--dry-run", "--json")).stdout)
    assert mailbox_id not in {p["mailbox_id"] for p in dry["purged"]}
    kept = {k["mailbox_id"]: k["reason"] for k in dry["kept"]}
    assert "legal hold" in kept[mailbox_id]
    ok(cli("domain", "release", cli_domain))
    ok(cli("account", "release", mailbox_id))
    assert audit.count(action="account.hold", object_id=address) == 1
    assert audit.count(action="account.release", object_id=address) == 1
    assert audit.count(action="domain.hold", object_id=cli_domain) == 1


@pytest.fixture(scope="module")
def bad_world(stack) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A domain with a taken address, an alias, and one deleted account: (domain, its mailbox id)."""
    cli = Cli(stack)
    domain = f"c{uuid.uuid4().hex[:10]}.go.th"
    ok(cli("domain", "add", domain))
    for local, extra in (("taken", ()), ("mover", ()), ("holder", ("--aliases", f"boss@{domain}")), ("gone", ())):
        ok(cli("account", "add", f"{local}@{domain}", *extra, "--password-stdin", stdin=PASSWORD + "\n"))
    ok(cli("account", "delete", f"gone@{domain}"))
    mailbox_id = json.loads(ok(cli("account", "deleted", "list", domain, "--json")).stdout)[0]["mailbox_id"]
    return domain, mailbox_id


@pytest.mark.parametrize("args, code, words", [
    (("account", "restore", "00000000-1111-2222-3333-444444444444"), 1, "deleted account not found"),
    (("account", "restore", "nobody@{d}"), 1, "deleted account not found"),
    (("account", "restore", "{id}", "--as", "taken@{d}"), 1, "already exists"),
    (("account", "restore", "{id}", "--as", "x@other.go.th"), 2, "as:"),
    (("account", "rename", "mover@{d}", "taken@{d}"), 1, "already exists"),
    (("account", "rename", "mover@{d}", "boss@{d}"), 1, "already exists"),
    (("account", "rename", "mover@{d}", "not an address"), 2, "new_address:"),
    (("account", "handover", "{id}", "--to", "nobody@{d}"), 1, "account not found"),
    (("domain", "set", "{d}", "--retention-days", "3651"), 2, "retention_days:"),
    (("domain", "set", "{d}", "--retention-days", "-5"), 2, "retention_days:"),
    (("account", "hold", "taken@{d}", "--reason", " "), 2, "reason:"),
])
def test_bad_input_and_missing_or_taken_objects(cli: Cli, bad_world: tuple[str, str], audit: AuditProbe,
                                                args: tuple[str, ...], code: int, words: str) -> None:
    domain, mailbox_id = bad_world
    before = audit.count(domain=domain)
    result = cli(*(a.format(d=domain, id=mailbox_id) for a in args))
    assert result.returncode == code, (result.stdout, result.stderr)
    assert words in result.stderr
    assert audit.count(domain=domain) == before  # nothing changed
    assert [r["mailbox_id"] for r in json.loads(ok(cli("account", "deleted", "list", domain, "--json")).stdout)] == [
        mailbox_id]
