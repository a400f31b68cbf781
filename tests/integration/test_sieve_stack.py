"""Sieve at delivery and ManageSieve, as the stack configures Dovecot's Pigeonhole: a
user's active script (put with the stack's doveadm) files a message at LMTP delivery, the
operator's script runs before it, and a ManageSieve client logs in over STARTTLS."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest

from mailgothai.errors import StackError
from mailgothai.mailstore.paths import paths_for
from mailgothai.settings import Settings
from mailgothai.stack import sieve
from tests.conftest import Cli
from tests.integration.conftest import MailClients
from tests.integration.managesieve import ManageSieve

pytestmark = pytest.mark.integration

PASSWORD = "Sieve-stack-2026"
USER_SCRIPT = """require ["fileinto", "mailbox"];
if header :contains "subject" "invoice" { fileinto :create "Bills"; }
"""


def doveadm(settings: Settings, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["doveadm", "-c", str(paths_for(settings).config), *args], input=stdin,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def message(to: str, subject: str, extra: str = "") -> bytes:
    return (f"From: <clerk@example.org>\r\nTo: <{to}>\r\nSubject: {subject}\r\n{extra}"
            f"Message-ID: <{uuid.uuid4().hex}@example.org>\r\n\r\nbody\r\n").encode()


def counts(mail: MailClients, email: str) -> dict[str, int]:
    with mail.imap(email, PASSWORD) as imap:
        return {name: imap.folder_status(name, ["MESSAGES"])[b"MESSAGES"]
                for _, _, name in imap.list_folders()}


def test_the_active_script_files_a_message_at_lmtp_delivery(stack: Settings, cli: Cli, domain: str,
                                                            mail: MailClients) -> None:
    email = f"filer@{domain}"
    assert cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    doveadm(stack, "sieve", "put", "-u", email, "-a", "rules", stdin=USER_SCRIPT)
    assert doveadm(stack, "sieve", "list", "-u", email).split() == ["rules", "ACTIVE"]
    assert USER_SCRIPT in doveadm(stack, "sieve", "get", "-u", email, "rules")

    mail.deliver(email, message(email, "your invoice for December"))
    mail.deliver(email, message(email, "lunch?"))

    assert counts(mail, email) == {"INBOX": 1, "Bills": 1}


def test_the_operators_script_runs_before_the_users(stack: Settings, cli: Cli, domain: str,
                                                   mail: MailClients) -> None:
    email = f"junked@{domain}"
    assert cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    doveadm(stack, "sieve", "put", "-u", email, "-a", "rules", stdin=USER_SCRIPT)
    mark = uuid.uuid4().hex  # only this test's message: the stack is the session's
    name = f"50-test-{mark[:8]}"
    sieve.install_before(stack, name, 'require ["fileinto", "mailbox"];\n'
                         f'if header :is "X-Test-Junk" "{mark}" {{ fileinto :create "Junk"; }}\n')
    try:
        mail.deliver(email, message(email, "invoice, spam", f"X-Test-Junk: {mark}\r\n"))
        mail.deliver(email, message(email, "invoice, real"))
    finally:
        assert sieve.remove_before(stack, name)
    # the operator's filing ended the sequence: the user's rule did not file it again
    assert counts(mail, email) == {"INBOX": 0, "Junk": 1, "Bills": 1}


def test_an_operator_script_that_does_not_compile_replaces_nothing(stack: Settings) -> None:
    name = f"50-broken-{uuid.uuid4().hex[:8]}"
    with pytest.raises(Exception, match="sievec"):
        sieve.install_before(stack, name, 'fileinto "Junk"\n')  # no require, no semicolon
    assert not list(paths_for(stack).sieve_before_dir.glob(f"*{name}*"))


def test_managesieve_logs_in_over_starttls_and_lists_the_script(stack: Settings, cli: Cli, domain: str) -> None:
    email = f"editor@{domain}"
    assert cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    doveadm(stack, "sieve", "put", "-u", email, "-a", "rules", stdin=USER_SCRIPT)
    status = json.loads(cli("stack", "status", "--json").stdout)
    host, port = status["managesieve"].rsplit(":", 1)
    assert (host, int(port)) == (stack.host, stack.managesieve_port)

    raw = socket.create_connection((host, int(port)), timeout=30)
    session = ManageSieve(raw)
    greeting = session.response()
    assert '"STARTTLS"' in greeting and greeting[-1].startswith("OK")
    assert session.command("STARTTLS")[-1].startswith("OK")
    context = ssl.create_default_context(cafile=str(stack.tls_cert_path))  # the stack's own certificate
    secured = ManageSieve(context.wrap_socket(raw, server_hostname=stack.host))
    capabilities = secured.response()  # sent again after TLS (RFC 5804 2.2)
    assert any(line.startswith('"SASL"') and "PLAIN" in line for line in capabilities)
    token = base64.b64encode(f"\0{email}\0{PASSWORD}".encode()).decode()
    assert secured.command(f'AUTHENTICATE "PLAIN" "{token}"')[-1].startswith("OK")
    assert secured.command("LISTSCRIPTS") == ['"rules" ACTIVE', 'OK "Listscripts completed."']
    secured.command("LOGOUT")
    secured.sock.close()



def test_sieve_mail_goes_to_the_named_relay_on_a_node_without_one(stack: Settings, tmp_path: Path) -> None:
    node = stack.replace(data_dir=tmp_path / "node", sieve_submission="relay1.example.go.th:587")
    (tmp_path / "node").mkdir(mode=0o700)
    sieve.write_sendmail(node, stack.tls_cert_path)
    written = json.loads(sieve.sendmail_config(node).read_text())
    assert (written["host"], written["port"]) == ("relay1.example.go.th", "587")
    assert "pickup=" not in sieve.sendmail_command(node).read_text()  # no relay shares this data dir: SMTP
    with pytest.raises(StackError, match="sieve_submission"):
        sieve.write_sendmail(node.replace(sieve_submission="relay1.example.go.th"), stack.tls_cert_path)
