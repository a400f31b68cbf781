"""Mail filters (issue 17) against the stack's real Dovecot: scripts put over ManageSieve with
a real client library (sievelib), rules saved by the filter service, messages delivered over
LMTP and looked for over IMAP; the web's script never replaces one it did not write."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sievelib.managesieve import Client

from mailgothai.core.models import Role
from mailgothai.core.sieve_filters import SCRIPT_NAME, check_rules, compile_rules
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.mailstore.sieve import SieveScripts
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.filters import Filters
from mailgothai.settings import Settings
from tests.conftest import Cli
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

PASSWORD = "Filters-2026-pass"
OWN_SCRIPT = 'require ["fileinto", "mailbox"];\nif header :contains "subject" "own" { fileinto :create "Own"; }\n'


def message(to: str, subject: str, sender: str = "Clerk <clerk@example.org>") -> bytes:
    return (f"From: {sender}\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.org>\r\n\r\nbody\r\n").encode()


def counts(mail: MailClients, email: str) -> dict[str, int]:
    with mail.imap(email, PASSWORD) as imap:
        return {name: imap.folder_status(name, ["MESSAGES"])[b"MESSAGES"] for flags, _, name in imap.list_folders()
                if not {b"\\Noselect", b"\\NonExistent"} & set(flags)}  # a parent made by "a/b" only


@pytest.fixture
def backends(stack: Settings) -> Iterator[Backends]:
    b = Backends.open(stack)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def user(cli: Cli, domain: str) -> str:
    email = f"somchai.{uuid.uuid4().hex[:6]}@{domain}"
    assert cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    return email


@pytest.fixture(autouse=True)
def _trust_the_stacks_certificate(stack: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """sievelib verifies the server with the default trust store: the stack's own certificate."""
    monkeypatch.setenv("SSL_CERT_FILE", str(stack.tls_cert_path))


def managesieve(stack: Settings, email: str) -> Client:
    """A sievelib client logged in as the user over STARTTLS (no password before TLS)."""
    client = Client(stack.host, stack.managesieve_port)
    assert client.connect(email, PASSWORD, starttls=True, authmech="PLAIN"), client.errmsg
    return client


def test_a_filter_uploaded_over_managesieve_moves_a_delivered_message(stack: Settings, user: str,
                                                                      mail: MailClients) -> None:
    client = managesieve(stack, user)
    assert client.putscript("office", 'require ["fileinto", "mailbox"];\n'
                                      'if header :contains "subject" "รายงาน" { fileinto :create "รายงาน"; }\n')
    assert client.setactive("office")
    client.logout()
    mail.deliver(user, message(user, "=?UTF-8?B?4Lij4Liy4Lii4LiH4Liy4LiZ?= ประจำเดือน"))  # รายงาน, MIME-encoded
    mail.deliver(user, message(user, "lunch?"))
    assert counts(mail, user) == {"INBOX": 1, "รายงาน": 1}


def test_a_script_that_does_not_compile_is_refused_and_nothing_stored(stack: Settings, user: str) -> None:
    broken = 'fileinto "Junk";\n'  # fileinto without its require
    client = managesieve(stack, user)
    assert not client.putscript("broken", broken)
    assert "fileinto" in str(client.errmsg)
    assert client.listscripts() == (None, [])
    client.logout()
    scripts = SieveScripts(stack.dovecot_config)
    with pytest.raises(InvalidInput) as caught:
        scripts.put(user, "broken", broken)
    assert caught.value.field == "script" and caught.value.code == "sieve_does_not_compile"
    assert "fileinto" in caught.value.reason and "Error" not in caught.value.reason.split(":")[0]
    assert scripts.list(user) == [] and scripts.get(user, "broken") is None


def test_rules_saved_by_the_service_move_forward_nothing_and_discard(stack: Settings, backends: Backends,
                                                                       user: str, mail: MailClients) -> None:
    filters = Filters.of_user(backends, user)
    state = filters.save(user, [
        {"field": "subject", "contains": 'ประชุม "ด่วน" \\', "action": "move", "folder": "งาน/ประชุม"},
        {"field": "sender", "contains": "spammer@", "action": "discard"},
    ])
    assert state.in_effect and state.active == SCRIPT_NAME and len(state.rules) == 2
    mail.deliver(user, message(user, 'Re: ประชุม "ด่วน" \\ พรุ่งนี้'))
    mail.deliver(user, message(user, "hello", sender="Spam <spammer@bad.example>"))
    mail.deliver(user, message(user, 'ประชุม "ด่วน" without the backslash'))
    assert counts(mail, user) == {"INBOX": 1, "งาน/ประชุม": 1}
    assert filters.show(user).rules == state.rules  # read back from the script's header


def test_the_web_never_overwrites_or_deactivates_a_script_it_did_not_write(stack: Settings, backends: Backends,
                                                                           user: str, mail: MailClients) -> None:
    client = managesieve(stack, user)
    assert client.putscript("own", OWN_SCRIPT) and client.setactive("own")
    client.logout()
    assert backends.sieve_scripts is not None
    original = backends.sieve_scripts.get(user, "own")
    assert original is not None and original.replace("\r\n", "\n") == OWN_SCRIPT  # the client sent CRLF lines
    rules = [{"field": "subject", "contains": "report", "action": "move", "folder": "Reports"}]
    filters = Filters.of_user(backends, user)
    state = filters.save(user, rules)
    assert (state.active, state.in_effect, state.other_active) == ("own", False, "own")
    assert backends.sieve_scripts.get(user, "own") == original
    mail.deliver(user, message(user, "own report"))
    assert counts(mail, user) == {"INBOX": 0, "Own": 1}  # the user's own script still decides

    # asked explicitly, the web's rules take over; the user's script is kept, inactive
    state = filters.save(user, rules, use_instead_of_own=True)
    assert state.in_effect and set(state.scripts) == {"own", SCRIPT_NAME}
    assert backends.sieve_scripts.get(user, "own") == original
    mail.deliver(user, message(user, "own report"))
    assert counts(mail, user) == {"INBOX": 0, "Own": 1, "Reports": 1}

    # the user edits the web's script by hand in a client: the web refuses to overwrite it
    client = managesieve(stack, user)
    assert client.getscript(SCRIPT_NAME).startswith("# MailGoThai filters")
    edited = compile_rules(check_rules(rules)).replace('"Reports"', '"Elsewhere"')
    assert client.putscript(SCRIPT_NAME, edited)
    client.logout()
    shown = filters.show(user)
    assert shown.edited_by_hand and shown.rules == ()
    with pytest.raises(InvalidInput) as caught:
        filters.save(user, [{"field": "sender", "contains": "x", "action": "discard"}])
    assert caught.value.field == "rules" and caught.value.code == "filters_edited_by_hand"
    assert backends.sieve_scripts.get(user, SCRIPT_NAME).replace("\r\n", "\n") == edited


def test_a_domain_admin_reaches_only_accounts_of_their_domains(stack: Settings, backends: Backends, user: str,
                                                               domain: str) -> None:
    theirs = Filters(backends, Actor("admin-x", Role.DOMAIN_ADMIN, frozenset({domain}), origin="test"))
    assert theirs.save(user, [{"field": "sender", "contains": "x", "action": "discard"}]).in_effect
    outsider = Filters(backends, Actor("admin-y", Role.DOMAIN_ADMIN, frozenset({"other.go.th"}), origin="test"))
    with pytest.raises(NotFound):
        outsider.show(user)
    with pytest.raises(NotFound):
        Filters.of_user(backends, f"someone.else@{domain}").show(user)
    entries = backends.audit.query(object_id=user, action="account.filters")
    assert [e.actor for e in entries] == ["admin-x"]


def test_the_cli_sets_and_lists_rules_and_names_a_bad_field(cli: Cli, user: str, mail: MailClients,
                                                           tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"field": "sender", "contains": "hr@", "action": "move", "folder": "บุคคล"}],
                                ensure_ascii=False), encoding="utf-8")
    done = cli("filter", "set", user, "--file", str(rules))
    assert done.returncode == 0, done.stderr
    assert "sender contains 'hr@'\tmove บุคคล" in cli("filter", "list", user).stdout
    mail.deliver(user, message(user, "payslip", sender="HR <hr@agency.go.th>"))
    assert counts(mail, user) == {"INBOX": 0, "บุคคล": 1}

    rules.write_text('[{"field": "subject", "contains": "x", "action": "move", "folder": "a\\nb"}]')
    refused = cli("filter", "set", user, "--file", str(rules))
    assert refused.returncode == 2 and "rules[0].folder" in refused.stderr and "control character" in refused.stderr
    assert json.loads(cli("filter", "list", user, "--json").stdout)["rules"][0]["folder"] == "บุคคล"  # unchanged
