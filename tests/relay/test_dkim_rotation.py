"""DKIM rotation with overlap: during the overlap the old selector signs and the new
record is shown; after the switch (confirmed, or by itself after the delay) the new
one signs and verifies; the old one is retired later. Domain admins reach only their
own domains."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from conftest import Cli

from mailgothai.core.models import Role
from mailgothai.errors import NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.store.relay_state import KeyState
from relay.conftest import MailDomain
from relay.helpers import dns_records, fetch_all, message, perl_verify, submission, wait_for, wait_for_messages

pytestmark = [pytest.mark.integration, pytest.mark.sql]


def _selector_of(msg: bytes) -> str:
    found = re.search(rb"DKIM-Signature:.*?\bs=([a-z0-9-]+);", msg, re.S)
    assert found, "no DKIM-Signature"
    return found.group(1).decode()


def _send_and_fetch(relay: Settings, sender: str, reader: str, subject: str) -> bytes:
    before = len(fetch_all(relay, reader))
    with submission(relay, sender) as client:
        client.sendmail(sender, [reader], message(sender, reader, subject))
    return wait_for_messages(relay, reader, before + 1)[-1]


def test_rotation_overlap_then_confirmed_switch_then_retire(relay: Settings, mail_domain: MailDomain,
                                                            tmp_path: Path) -> None:
    cli = Cli(relay)
    sender, reader = mail_domain.account("rot"), mail_domain.account("watcher")
    first = json.loads(cli("dkim", "generate", mail_domain.name, "--json").stdout)
    old = first["key"]["selector"]
    assert first["dns_name"] == f"{old}._domainkey.{mail_domain.name}"
    assert first["dns_txt"].startswith("v=DKIM1; k=rsa; p=")
    key_file = relay.dkim_key_dir / mail_domain.name / f"{old}.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700

    assert _selector_of(_send_and_fetch(relay, sender, reader, "before")) == old

    rotated = cli("dkim", "rotate", mail_domain.name, "--json")
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)["key"]["selector"]
    assert json.loads(rotated.stdout)["key"]["state"] == "pending"
    shown = cli("dkim", "record", mail_domain.name, new)
    assert shown.stdout.startswith(f"{new}._domainkey.{mail_domain.name}. IN TXT")

    during = _send_and_fetch(relay, sender, reader, "during")
    assert _selector_of(during) == old  # the overlap: the old key still signs
    records = dns_records(mail_domain.services, mail_domain.name)
    assert set(records) == {f"{old}._domainkey.{mail_domain.name}", f"{new}._domainkey.{mail_domain.name}"}
    assert perl_verify(during, records, tmp_path).overall == "pass"

    assert cli("dkim", "activate", mail_domain.name, new).returncode == 0
    after = _send_and_fetch(relay, sender, reader, "after")
    assert _selector_of(after) == new
    assert perl_verify(after, records, tmp_path).overall == "pass"
    # mail signed before the switch still verifies while the old record stays published
    assert perl_verify(during, records, tmp_path).overall == "pass"
    states = {k["selector"]: k["state"] for k in json.loads(cli("dkim", "list", mail_domain.name, "--json").stdout)}
    assert states == {old: "retiring", new: "active"}

    assert cli("dkim", "retire", mail_domain.name, old).returncode == 0
    assert not key_file.exists()
    refused = cli("dkim", "retire", mail_domain.name, new)
    assert refused.returncode == 2 and "selector" in refused.stderr


def test_the_switch_happens_by_itself_after_the_delay(relay: Settings, mail_domain: MailDomain) -> None:
    sender, reader = mail_domain.account("auto"), mail_domain.account("seer")
    old = mail_domain.services.dkim.generate(mail_domain.name).selector
    new = mail_domain.services.dkim.rotate(mail_domain.name, switch_after=0).selector
    # the relay applies due switches when it refreshes its key table (every few seconds)
    def signer() -> str:
        found = re.search(rb"DKIM-Signature:.*?\bs=([a-z0-9-]+);", _send_and_fetch(relay, sender, reader, "auto"), re.S)
        return found.group(1).decode() if found else ""  # unsigned until the relay has read the new keys

    wait_for(lambda: signer() == new, "the delayed switch to the new selector")
    keys = {k.selector: k.state for k in mail_domain.services.dkim.list(mail_domain.name)}
    assert keys == {old: KeyState.RETIRING, new: KeyState.ACTIVE}


def test_domain_admins_manage_only_their_own_domains_keys(relay: Settings, mail_domain: MailDomain,
                                                         services: Services) -> None:
    other = f"other-{mail_domain.name}"
    services.domains.add(other)
    services.admins.add(f"adm-{mail_domain.name[:8]}", "domain_admin", PasswordInput(plain="Admin-pass-123x"),
                        domains=(mail_domain.name,))
    actor = Actor(f"adm-{mail_domain.name[:8]}", Role.DOMAIN_ADMIN, frozenset({mail_domain.name}), origin="test")
    with Services.open(relay, actor) as mine:
        key = mine.dkim.generate(mail_domain.name, "ed25519")
        assert key.algorithm == "ed25519" and mine.dkim.record(mail_domain.name, key.selector).text.startswith(
            "v=DKIM1; k=ed25519; p=")
        with pytest.raises(NotFound):
            mine.dkim.generate(other)
        with pytest.raises(NotFound):
            mine.dkim.list(other)


def test_bad_input_names_the_field(relay: Settings, mail_domain: MailDomain) -> None:
    cli = Cli(relay)
    bad = cli("dkim", "generate", mail_domain.name, "--algorithm", "dsa")
    assert bad.returncode == 2 and "algorithm" in bad.stderr
    bad = cli("dkim", "generate", mail_domain.name, "--selector", "-bad-")
    assert bad.returncode == 2 and "selector" in bad.stderr
    missing = cli("dkim", "list", "not-hosted.example")
    assert missing.returncode == 1
