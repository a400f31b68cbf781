"""`mailgothai restore DIR --domain D` (issue 19): one agency's accounts and mail put back
into the running service from a backup, against the session's real slapd and Dovecot, as
the agency would check it: over IMAP, with the old passwords, byte for byte."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.errors import LimitExceeded, PermissionDenied
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.purge import PurgeService
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack.backup import take_backup
from mailgothai.stack.restore_domain import BackupRefused, restore_domain
from tests.conftest import Cli
from tests.integration.conftest import AuditProbe, MailClients

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PASSWORDS = {"alice": "Rt5-first-secret-1", "bob": "Rt5-second-secret-2", "carol": "Rt5-third-secret-3",
             "erin": "Rt5-fourth-secret-4", "oscar": "Rt5-fifth-secret-5"}


def _message(subject: str) -> bytes:
    return (f"From: <someone@example.org>\r\nSubject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@t>\r\n"
            f"\r\n{subject} body\r\nไทย\r\n").encode()


def _mail(mail: MailClients, user: str, password: str, folder: str = "INBOX") -> dict[str, bytes]:
    """Each message of the folder, whole, by its subject."""
    with mail.imap(user, password) as client:
        client.select_folder(folder, readonly=True)
        ids = client.search("ALL")
        fetched = client.fetch(ids, ["BODY.PEEK[]"]) if ids else {}
    out: dict[str, bytes] = {}
    for data in fetched.values():
        body = data[b"BODY[]"]
        subject = body.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        assert subject not in out, f"{subject} twice in {user}'s {folder}"
        out[subject] = body
    return out


def _expunge(mail: MailClients, user: str, password: str, *subjects: str, folder: str = "INBOX") -> None:
    with mail.imap(user, password) as client:
        client.select_folder(folder)
        for subject in subjects:
            ids = client.search(["SUBJECT", subject])
            assert ids, subject
            client.delete_messages(ids)
        client.expunge()


def _add(services: Services, mail: MailClients, address: str, password: str, *subjects: str) -> None:
    services.accounts.add(address, PasswordInput(plain=password), display_name="เจ้าหน้าที่")
    for subject in subjects:
        mail.deliver(address, _message(subject))


def _purge_now(services: Services) -> None:
    """Purge the accounts whose retention (1 day in these domains) has passed, two days on."""
    later = datetime.now(UTC) + timedelta(days=2)
    PurgeService(services.backends, Actor("purge-test", Role.SUPERADMIN, origin="test"), clock=lambda: later).run()


@pytest.fixture
def agency(services: Services) -> str:
    name = f"r{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(name, description="restore test", retention_days=1)
    return name


def test_one_agency_gets_its_accounts_and_mail_back(services: Services, agency: str, domain: str,
                                                   mail: MailClients, stack: Settings, audit: AuditProbe,
                                                   cli: Cli, tmp_path: Path) -> None:
    a = {name: f"{name}@{agency}" for name in ("alice", "bob", "carol", "erin")}
    oscar = f"oscar@{domain}"  # another agency's
    _add(services, mail, a["alice"], PASSWORDS["alice"], "alice letter")
    _add(services, mail, a["bob"], PASSWORDS["bob"], "bob one", "bob two", "bob three")
    _add(services, mail, a["carol"], PASSWORDS["carol"], "carol private letter")
    _add(services, mail, a["erin"], PASSWORDS["erin"], "erin letter", "erin memo")
    _add(services, mail, oscar, PASSWORDS["oscar"], "oscar one", "oscar two")
    services.aliases.add(f"staff@{agency}", (a["alice"], a["bob"]))
    erin_filters = services.filters.save(a["erin"], [
        {"field": "subject", "contains": "ประชุม", "action": "move", "folder": "Meetings"}])
    erin_away = services.vacation.set(a["erin"], subject="ลาพักร้อน", message="กลับวันจันทร์ครับ")
    before = {name: _mail(mail, address, PASSWORDS[name]) for name, address in a.items()}
    oscar_before = _mail(mail, oscar, PASSWORDS["oscar"])
    ids = {name: services.backends.accounts.get(address).mailbox_id for name, address in a.items()}

    backup = tmp_path / "backup"
    take_backup(stack, backup)

    # What the agency did since: alice deleted (still in retention); erin and carol deleted
    # and purged; carol's address given to a new person; two of bob's messages expunged; the
    # alias deleted. Oscar, of another domain, expunged one of his.
    services.accounts.delete(a["erin"])
    services.accounts.delete(a["carol"])
    _purge_now(services)
    services.accounts.delete(a["alice"])
    assert services.backends.retained.by_id(ids["erin"]) is None
    new_carol = "Rt5-newcomer-secret-6"
    services.accounts.add(a["carol"], PasswordInput(plain=new_carol))
    _expunge(mail, a["bob"], PASSWORDS["bob"], "bob one", "bob three")
    services.aliases.delete(f"staff@{agency}")
    _expunge(mail, oscar, PASSWORDS["oscar"], "oscar two")

    dry = cli("restore", str(backup), "--domain", agency, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {o["address"]: (o["action"], o["messages"]) for o in json.loads(dry.stdout)["accounts"]}
    # alice's mailbox waited in retention, whole: nothing of it to put back
    assert planned == {a["alice"]: ("undeleted", 0), a["erin"]: ("recreated", 2), a["bob"]: ("kept", 2),
                       a["carol"]: ("skipped", 0)}
    assert not mail.can_login(a["alice"], PASSWORDS["alice"])  # a dry run changes nothing
    assert sorted(_mail(mail, a["bob"], PASSWORDS["bob"])) == ["bob two"]

    report = restore_domain(services, backup, agency)
    by_address = {o.address: o for o in report.accounts}
    assert (report.count("undeleted"), report.count("recreated"), report.count("skipped")) == (1, 1, 1)
    assert by_address[a["erin"]].messages == 2 and by_address[a["bob"]].messages == 2
    assert "another account" in by_address[a["carol"]].note

    # Each comes back with its old password and its mail, byte for byte.
    for name in ("alice", "bob", "erin"):
        assert mail.can_login(a[name], PASSWORDS[name]), name
        assert _mail(mail, a[name], PASSWORDS[name]) == before[name], name
    erin = services.backends.accounts.get(a["erin"])
    assert erin.mailbox_id == ids["erin"] and erin.display_name == "เจ้าหน้าที่"
    # and erin's filters and out-of-office reply, in effect as before
    filters_now = services.filters.show(a["erin"])
    assert filters_now.rules == erin_filters.rules and filters_now.in_effect
    assert services.vacation.show(a["erin"]).vacation == erin_away.vacation
    assert audit.count(action="account.sieve_restore", object_id=a["erin"]) == 1
    assert services.aliases.get(f"staff@{agency}").members == (a["alice"], a["bob"])
    # The new holder of carol's address got none of the old mail, and kept its password.
    assert _mail(mail, a["carol"], new_carol) == {}
    assert not mail.can_login(a["carol"], PASSWORDS["carol"])
    # Another agency is untouched: oscar's expunged message stays gone.
    assert _mail(mail, oscar, PASSWORDS["oscar"]) == {"oscar one": oscar_before["oscar one"]}
    # Dovecot counts the mail put back.
    assert services.backends.doveadm.quota(a["erin"]).used_bytes > 0
    assert audit.count(action="account.recreate", object_id=a["erin"]) == 1
    assert audit.count(action="account.restore", object_id=a["alice"]) == 1
    assert audit.count(action="mailbox.restore", object_id=a["bob"]) == 1
    assert audit.count(action="alias.restore", object_id=f"staff@{agency}") == 1
    assert audit.count(action="domain.restore", object_id=agency) == 1

    # Run again: nothing more happens, no message twice.
    again = cli("restore", str(backup), "--domain", agency)
    assert again.returncode == 0, again.stderr
    assert f"{a['bob']}: exists, 0 message(s) put back" in again.stdout.splitlines()
    assert again.stdout.splitlines()[-1].endswith(
        "0 account(s) added again, 0 undeleted, 0 message(s) put back, 0 alias(es) restored, "
        "0 shared mailbox(es) added again, 1 account(s) skipped")
    assert _mail(mail, a["bob"], PASSWORDS["bob"]) == before["bob"]
    assert audit.count(action="mailbox.restore", object_id=a["bob"]) == 1
    assert audit.count(action="domain.restore", object_id=agency) == 2


def _state(services: Services, mail: MailClients, agency: str) -> tuple[object, ...]:
    domain = services.domains.get(agency)
    return (domain.account_count, domain.quota_allocated, mail.can_login(f"gone@{agency}", "Rt5-seventh-secret-7"),
            sorted(_mail(mail, f"kept@{agency}", "Rt5-eighth-secret-8")))


def test_a_damaged_backup_and_a_full_domain_are_refused_and_nothing_changes(
        services: Services, agency: str, mail: MailClients, stack: Settings, cli: Cli, tmp_path: Path) -> None:
    _add(services, mail, f"gone@{agency}", "Rt5-seventh-secret-7", "gone letter")
    _add(services, mail, f"kept@{agency}", "Rt5-eighth-secret-8", "kept one", "kept two")
    backup = tmp_path / "backup"
    take_backup(stack, backup)
    services.accounts.delete(f"gone@{agency}")
    _expunge(mail, f"kept@{agency}", "Rt5-eighth-secret-8", "kept two")

    # The domain is full now: refused naming the account that does not fit, nothing changed.
    services.domains.set(agency, max_accounts=1)
    unchanged = _state(services, mail, agency)
    with pytest.raises(LimitExceeded, match=f"gone@{agency}: .*at most 1 accounts"):
        restore_domain(services, backup, agency)
    assert _state(services, mail, agency) == unchanged
    services.domains.set(agency, max_accounts=0)

    # One byte of one message changed in the backup: refused by its checksums.
    kept_id = services.backends.accounts.get(f"kept@{agency}").mailbox_id
    maildir = backup / "mail" / kept_id[:2] / kept_id / "Maildir"
    message = next(p for p in maildir.glob("*/*") if p.parent.name in ("cur", "new"))
    data = bytearray(message.read_bytes())
    data[-3] ^= 0x20
    message.chmod(0o600)
    message.write_bytes(bytes(data))
    refused = cli("restore", str(backup), "--domain", agency)
    assert refused.returncode == 1
    assert "refused, nothing changed" in refused.stderr and "SHA-256 differs" in refused.stderr
    assert _state(services, mail, agency) == unchanged

    data[-3] ^= 0x20
    message.write_bytes(bytes(data))
    planted = message.parent / f"{message.name.partition(':')[0]}0:2,S"  # a message no backup wrote
    planted.write_bytes(b"Subject: planted\r\n\r\nnot from this service\r\n")
    with pytest.raises(BackupRefused, match="nothing changed.*not in the manifest"):
        restore_domain(services, backup, agency)
    assert _state(services, mail, agency) == unchanged
    planted.unlink()

    (backup / "directory" / "data.ldif").unlink()  # an incomplete backup
    with pytest.raises(BackupRefused, match="data.ldif: missing"):
        restore_domain(services, backup, agency)
    assert _state(services, mail, agency) == unchanged

    (backup / "directory" / "data.ldif").write_text("dn: o=elsewhere\n")  # not the one the manifest lists
    with pytest.raises(BackupRefused, match="data.ldif: .*bytes, the manifest says"):
        restore_domain(services, backup, agency)
    assert _state(services, mail, agency) == unchanged


def test_only_operators_restore(stack: Settings, agency: str, tmp_path: Path) -> None:
    admin = Actor(f"adm-{agency}", Role.DOMAIN_ADMIN, domains=frozenset({agency}), origin="test")
    with Services.open(stack, admin) as as_admin, pytest.raises(PermissionDenied):
        restore_domain(as_admin, tmp_path / "nowhere", agency)


def test_mail_follows_the_account_renamed_since(services: Services, agency: str, mail: MailClients,
                                                stack: Settings, tmp_path: Path) -> None:
    old, new, password = f"somsri@{agency}", f"somsri.k@{agency}", "Rt5-renamed-secret-9"
    _add(services, mail, old, password, "before the rename", "kept after it")
    before = _mail(mail, old, password)
    backup = tmp_path / "backup"
    take_backup(stack, backup)
    services.lifecycle.rename(old, new)
    _expunge(mail, new, password, "before the rename")

    report = restore_domain(services, backup, agency)
    (outcome,) = report.accounts
    assert (outcome.action, outcome.messages, outcome.note) == ("kept", 1, f"now {new}")
    assert _mail(mail, new, password) == before  # back in the account's own mailbox
    assert services.backends.accounts.find(old) is None  # the old address is not made a second account



def test_shared_mailboxes_come_back_with_their_mail_and_no_live_account_gains_access(
        services: Services, agency: str, mail: MailClients, stack: Settings, audit: AuditProbe,
        cli: Cli, tmp_path: Path) -> None:
    clerk, boss, password = f"clerk@{agency}", f"boss@{agency}", "Rt5-shared-secret-10"
    _add(services, mail, clerk, password)
    _add(services, mail, boss, password)
    saraban, archive, old = f"saraban@{agency}", f"archive@{agency}", f"old-desk@{agency}"
    for address in (saraban, archive, old):
        services.shared.add(address, name="สารบรรณ")
    services.shared.add_member(saraban, clerk, "read,write")
    services.shared.add_member(saraban, boss, "read")
    services.shared.add_member(archive, clerk, "read,write")
    services.shared.add_member(old, clerk, "read,write")
    for subject in ("circular 1", "circular 2"):
        mail.deliver(saraban, _message(subject))
    for subject in ("archive 1", "archive 2", "archive 3"):
        mail.deliver(archive, _message(subject))
    mail.deliver(old, _message("old desk letter"))
    saraban_before = _mail(mail, boss, password, f"Shared/{saraban}")
    archive_before = _mail(mail, clerk, password, f"Shared/{archive}")
    assert sorted(saraban_before) == ["circular 1", "circular 2"]
    saraban_id = services.shared.get(saraban).mailbox_id
    backup = tmp_path / "backup"
    take_backup(stack, backup)

    # Since: saraban@ emptied and removed (its members lost it); two archive letters
    # expunged; old-desk@ emptied, removed, and its address given to a new account.
    _expunge(mail, clerk, password, *saraban_before, folder=f"Shared/{saraban}")
    services.shared.remove(saraban)
    _expunge(mail, clerk, password, "archive 1", "archive 3", folder=f"Shared/{archive}")
    _expunge(mail, clerk, password, "old desk letter", folder=f"Shared/{old}")
    services.shared.remove(old)
    newcomer = "Rt5-newcomer-secret-11"
    services.accounts.add(old, PasswordInput(plain=newcomer))

    dry = cli("restore", str(backup), "--domain", agency, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {o["address"]: (o["action"], o["messages"]) for o in json.loads(dry.stdout)["shared_mailboxes"]}
    assert planned == {saraban: ("recreated", 2), archive: ("kept", 2), old: ("skipped", 0)}
    assert services.backends.shared is not None and services.backends.shared.find(saraban) is None

    allocated = services.domains.get(agency).quota_allocated
    report = restore_domain(services, backup, agency)
    by_address = {o.address: o for o in report.shared}
    assert "another account" in by_address[old].note
    # saraban@ is back as the same mailbox, its room taken again in the domain's pool ...
    back = services.shared.get(saraban)
    assert back.mailbox_id == saraban_id and back.name == "สารบรรณ"
    assert services.domains.get(agency).quota_allocated == allocated + services.domains.get(agency).limits.default_quota
    # ... but the live accounts that were its members did not get their rights back by themselves
    assert by_address[saraban].note.endswith(f"(add them again): {boss}, {clerk}")
    with mail.imap(boss, password) as client:
        assert not [name for _, _, name in client.list_folders() if name.startswith("Shared/")]
    services.shared.add_member(saraban, boss, "read")  # the agency's admin adds them again
    assert _mail(mail, boss, password, f"Shared/{saraban}") == saraban_before  # byte for byte
    assert _mail(mail, clerk, password, f"Shared/{archive}") == archive_before
    # the new holder of old-desk@'s address got none of the old desk's mail
    assert _mail(mail, old, newcomer) == {}
    assert audit.count(action="shared.create", object_id=saraban) == 2  # made, then added back
    assert audit.count(action="mailbox.restore", object_id=archive) == 1
    assert services.backends.doveadm.quota(saraban).used_bytes > 0

    again = restore_domain(services, backup, agency)  # nothing more the second time
    assert {o.address: (o.action, o.messages) for o in again.shared} == {
        saraban: ("kept", 0), archive: ("kept", 0), old: ("skipped", 0)}
    assert _mail(mail, clerk, password, f"Shared/{archive}") == archive_before
