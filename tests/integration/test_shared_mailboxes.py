"""Shared role mailboxes (issue 17, saraban@), against the real slapd and Dovecot: members
see the shared mailbox in their own IMAP session (Shared/<address>/INBOX) with the rights
they were given, nobody else does, and access follows the account: suspended, removed or
deleted members lose it, and a new account on a deleted member's address has none. Bad
input names its field and stores nothing."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from integration.conftest import AuditProbe, MailClients
from mailgothai.core.models import Status
from mailgothai.errors import MailStoreError
from mailgothai.services import import_validation
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services

pytestmark = [pytest.mark.integration]
PASSWORD = "Shared-mailbox-pw-1"


def message(subject: str) -> bytes:
    return (f"From: outside@example.org\r\nTo: saraban\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@test>\r\nDate: Fri, 04 Dec 2026 08:00:00 +0000\r\n\r\n"
            "official letter\r\n").encode()


def account(services: Services, address: str) -> str:
    services.accounts.add(address, PasswordInput(plain=PASSWORD))
    return address


@contextlib.contextmanager
def session(mail: MailClients, user: str) -> Iterator[IMAPClient]:
    with mail.imap(user, PASSWORD) as client:
        yield client


def folders(client: IMAPClient) -> list[str]:
    return [name for _, _, name in client.list_folders()]


def subjects(client: IMAPClient, folder: str) -> list[str]:
    client.select_folder(folder, readonly=True)
    found = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    return sorted(v[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip().removeprefix("Subject: ")
                  for v in found.values())


def can_open(mail: MailClients, user: str, folder: str) -> bool:
    with session(mail, user) as client:
        try:
            client.select_folder(folder)
        except IMAPClientError:
            return False
        return True


@pytest.fixture
def office(services: Services, domain: str, mail: MailClients) -> dict[str, str]:
    """A domain with saraban@ (one letter delivered), a reader, a writer and a stranger."""
    people = {role: account(services, f"{role}@{domain}") for role in ("reader", "writer", "stranger")}
    services.shared.add(f"saraban@{domain}", name="สารบรรณ")
    services.shared.add_member(f"saraban@{domain}", people["reader"], "read")
    services.shared.add_member(f"saraban@{domain}", people["writer"], "read,write,send-as")
    mail.deliver(f"saraban@{domain}", message("letter 1"))
    return {**people, "shared": f"saraban@{domain}", "inbox": f"Shared/saraban@{domain}"}


def test_a_member_sees_the_shared_mailbox_in_its_own_session_and_a_stranger_does_not(
        office: dict[str, str], mail: MailClients) -> None:
    for member in (office["reader"], office["writer"]):
        with session(mail, member) as client:
            assert office["inbox"] in folders(client)
            assert subjects(client, office["inbox"]) == ["letter 1"]
    with session(mail, office["stranger"]) as client:
        assert not [f for f in folders(client) if f.startswith("Shared/")]
    assert not can_open(mail, office["stranger"], office["inbox"])


def test_a_reader_cannot_change_or_add_mail_and_a_writer_can(office: dict[str, str], mail: MailClients) -> None:
    with session(mail, office["reader"]) as client:
        client.select_folder(office["inbox"])
        uids = client.search("ALL")
        with contextlib.suppress(IMAPClientError):
            client.add_flags(uids, [b"\\Deleted"])
        with contextlib.suppress(IMAPClientError):
            client.expunge()
        with pytest.raises(IMAPClientError):
            client.append(office["inbox"], message("from the reader"))
    with session(mail, office["writer"]) as client:
        assert subjects(client, office["inbox"]) == ["letter 1"]  # the reader changed nothing
        client.append(office["inbox"], message("from the writer"))
        client.select_folder(office["inbox"])
        first = [u for u, v in client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).items()
                 if b"letter 1" in v[b"BODY[HEADER.FIELDS (SUBJECT)]"]]
        client.add_flags(first, [b"\\Deleted"])
        client.expunge()
    with session(mail, office["reader"]) as client:
        assert subjects(client, office["inbox"]) == ["from the writer"]


def test_each_member_keeps_its_own_seen_flags(office: dict[str, str], mail: MailClients) -> None:
    with session(mail, office["reader"]) as client:
        client.select_folder(office["inbox"])
        client.fetch(client.search("ALL"), ["BODY[]"])  # reading marks it \Seen
        assert client.search("UNSEEN") == []
    with session(mail, office["writer"]) as client:
        client.select_folder(office["inbox"], readonly=True)
        assert len(client.search("UNSEEN")) == 1


def test_a_suspended_member_loses_access_and_gets_it_back(services: Services, office: dict[str, str],
                                                          mail: MailClients) -> None:
    with session(mail, office["reader"]) as open_session:
        open_session.select_folder(office["inbox"], readonly=True)
        services.accounts.set_status(office["reader"], Status.DISABLED)
        with pytest.raises((IMAPClientError, OSError)):  # its open session is ended too
            open_session.search("ALL")
    assert not mail.can_login(office["reader"], PASSWORD)
    services.accounts.set_status(office["reader"], Status.ACTIVE)
    assert can_open(mail, office["reader"], office["inbox"])


def test_a_removed_member_loses_access(services: Services, office: dict[str, str], mail: MailClients,
                                       audit: AuditProbe) -> None:
    services.shared.remove_member(office["shared"], office["reader"])
    with session(mail, office["reader"]) as client:
        assert office["inbox"] not in folders(client)
    assert not can_open(mail, office["reader"], office["inbox"])
    assert can_open(mail, office["writer"], office["inbox"])
    assert [m.email for m in services.shared.show(office["shared"]).members] == [office["writer"]]
    assert audit.count(action="shared.member.remove", object_id=office["shared"]) == 1


def test_a_new_account_on_a_deleted_members_address_gets_no_access(services: Services, office: dict[str, str],
                                                                   mail: MailClients) -> None:
    services.accounts.delete(office["reader"])
    assert not mail.can_login(office["reader"], PASSWORD)
    account(services, office["reader"])  # someone else, later, on the same address
    with session(mail, office["reader"]) as client:
        assert office["inbox"] not in folders(client)
    assert not can_open(mail, office["reader"], office["inbox"])
    assert [m.email for m in services.shared.show(office["shared"]).members] == [office["writer"]]


def test_the_cli_adds_lists_and_removes(cli: object, services: Services, domain: str, mail: MailClients) -> None:
    run = cli  # the `mailgothai` command in this process
    member = account(services, f"somsri@{domain}")
    assert run("shared", "add", f"saraban@{domain}", "--name", "สารบรรณกลาง").returncode == 0  # type: ignore[operator]
    done = run("shared", "member", "add", f"saraban@{domain}", member, "--rights", "read,send-as")  # type: ignore[operator]
    assert done.returncode == 0, done.stderr
    listed = run("shared", "list", domain, "--json")  # type: ignore[operator]
    assert '"send-as"' in listed.stdout and member in listed.stdout and "สารบรรณกลาง" in listed.stdout
    mail.deliver(f"saraban@{domain}", message("via cli"))
    with session(mail, member) as client:
        assert subjects(client, f"Shared/saraban@{domain}") == ["via cli"]
    assert run("shared", "member", "remove", f"saraban@{domain}", member).returncode == 0  # type: ignore[operator]
    assert member not in run("shared", "list", domain).stdout  # type: ignore[operator]


def test_nobody_logs_in_as_the_shared_mailbox(office: dict[str, str], mail: MailClients) -> None:
    assert not mail.can_login(office["shared"], PASSWORD)
    assert not mail.can_login(office["shared"], "")


@pytest.mark.parametrize(("args", "field", "words"), [
    (("--rights", "read,admin"), "rights", "'admin'"),
    (("--rights", ""), "rights", "at least one right"),
])
def test_a_bad_rights_word_is_refused_naming_the_field(cli: object, services: Services, domain: str,
                                                       args: tuple[str, ...], field: str, words: str) -> None:
    member = account(services, f"somchai@{domain}")
    services.shared.add(f"saraban@{domain}")
    done = cli("shared", "member", "add", f"saraban@{domain}", member, *args)  # type: ignore[operator]
    assert done.returncode == 2
    assert f"error: {field}:" in done.stderr and words in done.stderr
    assert services.shared.show(f"saraban@{domain}").members == ()


def test_a_member_from_another_domain_or_unknown_is_refused_naming_the_field(
        cli: object, services: Services, domain: str) -> None:
    other = f"o{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(other, description="another agency")
    outsider = account(services, f"somchai@{other}")
    services.shared.add(f"saraban@{domain}")
    for member, words in ((outsider, f"not an account of {domain}"), (f"nobody@{domain}", "no account")):
        done = cli("shared", "member", "add", f"saraban@{domain}", member)  # type: ignore[operator]
        assert done.returncode == 2
        assert "error: member:" in done.stderr and words in done.stderr
    assert services.shared.show(f"saraban@{domain}").members == ()


def test_the_shared_address_must_be_free(services: Services, domain: str, cli: object) -> None:
    taken = account(services, f"saraban@{domain}")
    done = cli("shared", "add", taken)  # type: ignore[operator]
    assert done.returncode != 0 and "in use" in done.stderr
    assert services.shared.for_domain(domain) == []
    services.shared.add(f"saraban2@{domain}")
    with pytest.raises(Exception, match="in use"):
        services.aliases.add(f"saraban2@{domain}", f"somebody@{domain}")


def test_its_quota_comes_from_the_domains_pool_and_the_domain_keeps_it(services: Services, cli: object) -> None:
    name = f"q{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(name, description="small", quota_pool="3G", default_quota="1G")
    services.shared.add(f"saraban@{name}", quota="2G")
    assert services.domains.get(name).quota_allocated == 2 * 1024**3
    assert services.domains.get(name).account_count == 0  # not one of the domain's accounts
    done = cli("shared", "add", f"saraban2@{name}", "--quota", "2G")  # type: ignore[operator]
    assert done.returncode == 2 and "error: quota:" in done.stderr
    assert [s.shared.address for s in services.shared.for_domain(name)] == [f"saraban@{name}"]
    assert services.domains.recount(name).quota_allocated == 2 * 1024**3  # a recount keeps it
    with pytest.raises(Exception, match="shared mailboxes"):
        services.domains.delete(name, force=True)  # its mail is the agency's record
    assert services.domains.get(name).name == name


@pytest.mark.parametrize("lookup", ["domain read whole", "addresses looked up"])
def test_an_import_row_on_a_shared_mailboxs_address_is_refused(services: Services, domain: str, cli: object,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               lookup: str) -> None:
    if lookup == "addresses looked up":  # never the whole domain: one search for the file's addresses
        monkeypatch.setattr(import_validation, "PRELOAD_FACTOR", 0)
        monkeypatch.setattr(import_validation, "PRELOAD_SMALL", -1)
    services.shared.add(f"saraban@{domain}")
    rows = tmp_path / "staff.csv"
    rows.write_text(f"email,given_name\r\nsaraban@{domain},x\r\nsomsri@{domain},สมศรี\r\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    done = cli("import", str(rows), "--report", str(report))  # type: ignore[operator]
    assert done.returncode == 3, done.stderr
    assert "shared mailbox" in report.read_text(encoding="utf-8-sig")
    assert [a.email for a in services.accounts.iter_domain(domain)] == [f"somsri@{domain}"]


def test_only_an_empty_shared_mailbox_is_removed_and_its_members_lose_it(
        services: Services, office: dict[str, str], mail: MailClients, cli: object, audit: AuditProbe) -> None:
    domain = office["shared"].split("@")[1]
    done = cli("shared", "remove", office["shared"])  # type: ignore[operator]
    assert done.returncode == 2 and "error: address:" in done.stderr and "1 messages" in done.stderr
    assert services.shared.get(office["shared"]).address == office["shared"]  # nothing changed
    with session(mail, office["writer"]) as client:  # a writer empties it
        client.select_folder(office["inbox"])
        client.add_flags(client.search("ALL"), [b"\\Deleted"])
        client.expunge()
    allocated = services.domains.get(domain).quota_allocated
    done = cli("shared", "remove", office["shared"])  # type: ignore[operator]
    assert done.returncode == 0, done.stderr
    assert services.domains.get(domain).quota_allocated == allocated - services.domains.get(domain).limits.default_quota
    assert services.shared.for_domain(domain) == []
    for member in (office["reader"], office["writer"]):
        with session(mail, member) as client:
            assert not [f for f in folders(client) if f.startswith("Shared/")]
    assert audit.count(action="shared.delete", object_id=office["shared"]) == 1
    services.domains.delete(domain, force=True)  # nothing of the agency's mail is in the way now


def test_a_writer_makes_folders_in_the_shared_mailbox_and_a_reader_sees_them(office: dict[str, str],
                                                                          mail: MailClients) -> None:
    folder = f"{office['inbox']}/ทะเบียนรับ"  # "register of received letters"
    with session(mail, office["reader"]) as client:
        with pytest.raises(IMAPClientError):
            client.create_folder(folder)
    with session(mail, office["writer"]) as client:
        client.create_folder(folder)
        client.append(folder, message("filed"))
    with session(mail, office["reader"]) as client:
        assert folder in folders(client)
        assert subjects(client, folder) == ["filed"]


def test_users_cannot_share_their_own_folders_over_imap(office: dict[str, str], mail: MailClients) -> None:
    """Only shared mailboxes are shared (their ACLs name account ids, never addresses): a
    user's SETACL is refused, so a stranger is never given a folder by address, nor whoever
    gets that address later."""
    with session(mail, office["stranger"]) as client:
        client.create_folder("Private")
        client.delete_folder("Private")  # its own folders: every right but changing ACLs
        for folder in ("INBOX", office["inbox"]):
            with pytest.raises(IMAPClientError):
                client.setacl(folder, office["reader"], "lr")
    with session(mail, office["reader"]) as client:
        assert not [f for f in folders(client) if f.startswith(f"Shared/{office['stranger']}")]


def test_a_removal_holds_for_a_member_who_logs_in_under_an_alias_domain(services: Services, office: dict[str, str],
                                                                       mail: MailClients) -> None:
    domain = office["shared"].split("@")[1]
    renamed = f"new-{domain}"
    services.domain_routing.add_alias_domain(renamed, domain)
    also = office["reader"].replace(f"@{domain}", f"@{renamed}")  # the same account, by its other name
    with session(mail, also) as client:  # Dovecot now has this login cached under that name
        assert office["inbox"] in folders(client)
    services.shared.remove_member(office["shared"], office["reader"])
    with session(mail, also) as client:
        assert office["inbox"] not in folders(client)


def test_nothing_is_left_when_dovecot_cannot_take_the_acls(services: Services, domain: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(owner: str, acl: dict[str, str]) -> None:
        raise MailStoreError("doveadm acl failed: Dovecot is away")

    monkeypatch.setattr(services.backends.doveadm, "share_mailbox", refuse)
    allocated = services.domains.get(domain).quota_allocated
    with pytest.raises(MailStoreError):
        services.shared.add(f"saraban@{domain}")
    assert services.shared.for_domain(domain) == []
    assert services.domains.get(domain).quota_allocated == allocated
    monkeypatch.undo()
    assert services.shared.add(f"saraban@{domain}").address == f"saraban@{domain}"  # the address is free


def test_a_member_renamed_into_another_domain_leaves_the_old_domains_shared_mailboxes(
        services: Services, office: dict[str, str], mail: MailClients, audit: AuditProbe) -> None:
    """Members are accounts of the shared mailbox's domain: renamed into another domain,
    the account's memberships there end (its rights on its own entry, which the old
    domain's admins could no longer see nor remove), recorded in the audit; renamed within
    the domain it keeps them."""
    other = f"t{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(other, description="another agency")
    within = f"reader-renamed@{office['shared'].split('@')[1]}"
    services.lifecycle.rename(office["reader"], within)
    assert can_open(mail, within, office["inbox"]), "renamed within its domain: still a member"
    with session(mail, within) as open_session:
        open_session.select_folder(office["inbox"], readonly=True)
        moved = f"reader@{other}"
        services.lifecycle.rename(within, moved)
        with pytest.raises((IMAPClientError, OSError)):  # the session opened as a member ends
            open_session.search("ALL")

    with session(mail, moved) as client:
        assert office["inbox"] not in folders(client)
    assert not can_open(mail, moved, office["inbox"])
    shared = services.shared.get(office["shared"])
    assert services.backends.shared is not None
    assert services.backends.shared.rights_of(moved, shared) == frozenset()
    assert [m.email for m in services.shared.show(office["shared"]).members] == [office["writer"]]
    assert audit.count(action="shared.member.remove", object_id=office["shared"]) == 1
    [record] = services.backends.audit.query(action="shared.member.remove", object_id=office["shared"])
    assert record.before == {"member": within, "rights": "read"} and record.after == {"renamed_to": moved}
    assert can_open(mail, office["writer"], office["inbox"])
