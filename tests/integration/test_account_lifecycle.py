"""An address changes hands safely (issue 14), against the real slapd and Dovecot: a
mailbox belongs to its account, never to its address. Deleting keeps the mailbox for the
domain's retention period; restore, handover, rename, legal holds and the purge (with the
clock moved forward) as a user and an operator would check them: over IMAP and LMTP."""

from __future__ import annotations

import imaplib
import smtplib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap3
import pytest

from mailgothai.core.models import Role
from mailgothai.directory.retained import ldap_time
from mailgothai.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.purge import PurgeService
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.store.password_resets import PasswordResets, Recovery
from tests.integration.conftest import AuditProbe, MailClients

pytestmark = [pytest.mark.integration, pytest.mark.sql]

OLD = "Old-keys-pw-1x"
NEW = "New-keys-pw-2y"


def _message(subject: str) -> bytes:
    return (f"From: <someone@example.org>\r\nSubject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@t>\r\n"
            f"\r\n{subject} body\r\n").encode()


def _subjects(mail: MailClients, user: str, password: str, folder: str = "INBOX") -> list[str]:
    with mail.imap(user, password) as client:
        client.select_folder(folder, readonly=True)
        ids = client.search("ALL")
        fetched = client.fetch(ids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]) if ids else {}
    return sorted(v[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().split(":", 1)[1].strip() for v in fetched.values())


def _folders(mail: MailClients, user: str, password: str) -> list[str]:
    with mail.imap(user, password) as client:
        return sorted(name for _, _, name in client.list_folders())


def _lmtp_refusal(settings: Settings, recipient: str) -> tuple[int, bytes]:
    with smtplib.LMTP(settings.host, settings.lmtp_port, timeout=30) as lmtp:
        lmtp.mail("someone@example.org")
        return lmtp.rcpt(recipient)


def _with_mail(services: Services, mail: MailClients, address: str, password: str, *subjects: str) -> None:
    services.accounts.add(address, PasswordInput(plain=password), display_name="ผู้ถือเดิม")
    for subject in subjects:
        mail.deliver(address, _message(subject))


def test_a_reused_address_starts_empty_and_the_old_mail_is_kept(services: Services, domain: str,
                                                                mail: MailClients, stack: Settings) -> None:
    address = f"saraban@{domain}"
    _with_mail(services, mail, address, OLD, "first official letter", "second official letter")
    with mail.imap(address, OLD) as client:
        client.create_folder("Projects/2569")
    assert _subjects(mail, address, OLD) == ["first official letter", "second official letter"]

    with mail.imap(address, OLD) as session:  # a mail client that stays connected
        session.select_folder("INBOX")
        kept = services.accounts.delete(address)
        with pytest.raises((imaplib.IMAP4.abort, OSError)):  # its session was ended
            session.noop()
    assert not mail.can_login(address, OLD)
    assert _lmtp_refusal(stack, address)[0] == 550

    services.accounts.add(address, PasswordInput(plain=NEW))
    assert _subjects(mail, address, NEW) == []
    assert _folders(mail, address, NEW) == ["INBOX"]
    assert not mail.can_login(address, OLD)

    listed = services.lifecycle.deleted(domain)
    assert [(r.email, r.mailbox_id) for r in listed] == [(address, kept.mailbox_id)]
    assert listed[0].size and listed[0].size > 0
    assert listed[0].deleted_by == "test-operator"
    assert listed[0].purge_after - listed[0].deleted_at == timedelta(days=30)

    restored = services.lifecycle.restore(kept.mailbox_id, as_address=f"saraban.2568@{domain}")
    assert restored.account.mailbox_id == kept.mailbox_id
    assert _subjects(mail, f"saraban.2568@{domain}", OLD) == ["first official letter", "second official letter"]
    assert "Projects/2569" in _folders(mail, f"saraban.2568@{domain}", OLD)
    assert _subjects(mail, address, NEW) == []  # the new holder still sees nothing of it
    assert services.lifecycle.deleted(domain) == []


def test_restore_to_its_own_address_brings_back_names_aliases_and_room(services: Services, domain: str,
                                                                        mail: MailClients) -> None:
    address = f"director@{domain}"
    services.accounts.add(address, PasswordInput(plain=OLD), given_name="สมชาย", surname="ใจดี",
                          aliases=f"boss@{domain}", quota="2G")
    mail.deliver(address, _message("budget"))
    before = services.domains.get(domain)
    services.accounts.delete(address)
    after_delete = services.domains.get(domain)
    assert (after_delete.account_count, after_delete.quota_allocated) == (
        before.account_count - 1, before.quota_allocated - 2 * 1024**3)
    assert services.backends.aliases.holder_of(f"boss@{domain}") is None  # the alias is free while deleted

    done = services.lifecycle.restore(address)
    account = services.accounts.get(address)
    assert (account.given_name, account.surname, account.aliases, account.quota) == (
        "สมชาย", "ใจดี", (f"boss@{domain}",), 2 * 1024**3)
    assert done.dropped_aliases == ()
    assert services.domains.get(domain).account_count == before.account_count
    assert _subjects(mail, address, OLD) == ["budget"]


def test_a_restore_drops_only_the_aliases_others_took_meanwhile(services: Services, domain: str) -> None:
    address = f"clerk@{domain}"
    services.accounts.add(address, PasswordInput(plain=OLD), aliases=f"desk@{domain};front@{domain}")
    services.accounts.delete(address)
    services.aliases.add(f"desk@{domain}", f"someone@{domain}")
    done = services.lifecycle.restore(address)
    assert done.dropped_aliases == (f"desk@{domain}",)
    assert services.accounts.get(address).aliases == (f"front@{domain}",)


def test_handover_copies_the_mail_into_a_folder_and_nothing_else(services: Services, domain: str,
                                                                 mail: MailClients) -> None:
    old, successor = f"it.chief@{domain}", f"it.next@{domain}"
    _with_mail(services, mail, old, OLD, "server contract", "network plan")
    with mail.imap(old, OLD) as client:
        client.create_folder("Vendors")
        client.select_folder("INBOX")
        client.copy(client.search("ALL")[:1], "Vendors")  # the first: "server contract"
    services.accounts.add(successor, PasswordInput(plain=NEW))
    mail.deliver(successor, _message("welcome"))
    kept = services.accounts.delete(old)

    done = services.lifecycle.handover(old, successor)
    assert done.folder == f"Archive/{old}"
    assert done.messages == 3
    assert _subjects(mail, successor, NEW) == ["welcome"]
    assert _subjects(mail, successor, NEW, f"Archive/{old}/INBOX") == ["network plan", "server contract"]
    assert _subjects(mail, successor, NEW, f"Archive/{old}/Vendors") == ["server contract"]
    assert sorted(f for f in _folders(mail, successor, NEW) if not f.startswith("Archive")) == ["INBOX"]
    assert not mail.can_login(old, OLD)  # the successor got the mail, not the account
    assert services.lifecycle.get_deleted(kept.mailbox_id).email == old  # still kept until its purge

    again = services.lifecycle.handover(kept.mailbox_id, successor)  # a second handover: its own folder
    assert again.folder == f"Archive/{old} (2)"


def test_the_purge_removes_expired_mailboxes_and_keeps_held_ones(stack: Settings, services: Services,
                                                                 mail: MailClients, audit: AuditProbe) -> None:
    held_domain = f"h{uuid.uuid4().hex[:10]}.go.th"
    plain_domain = f"p{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(held_domain)
    services.domains.add(plain_domain, retention_days="7")
    expired, held, in_held_domain, young = (f"expired@{plain_domain}", f"held@{plain_domain}",
                                            f"someone@{held_domain}", f"young@{plain_domain}")
    for address in (expired, held, in_held_domain):
        _with_mail(services, mail, address, OLD, "keep me?")
    kept = {address: services.accounts.delete(address) for address in (expired, held, in_held_domain)}
    services.holds.hold_account(held, "คดีที่ 12/2569 ศาลปกครอง")
    services.holds.hold_domain(held_domain, "audit of the agency, order 5/2569")
    services.accounts.add(young, PasswordInput(plain=OLD))
    kept[young] = services.accounts.delete(young)
    boxes = services.backends.mailboxes
    assert all(boxes.exists(kept[a].mailbox_id) for a in (expired, held, in_held_domain))

    ten_days_later = datetime.now(UTC) + timedelta(days=10)
    operator = Actor("purge-test", Role.SUPERADMIN, origin="test")
    dry = PurgeService(services.backends, operator, clock=lambda: ten_days_later).run(dry_run=True)
    assert {r.email for r in dry.purged} >= {expired}
    assert boxes.exists(kept[expired].mailbox_id)  # a dry run removes nothing

    report = PurgeService(services.backends, operator, clock=lambda: ten_days_later).run()
    purged = {r.email for r in report.purged}
    assert expired in purged and held not in purged and in_held_domain not in purged
    assert not boxes.exists(kept[expired].mailbox_id)
    assert services.backends.retained.by_id(kept[expired].mailbox_id) is None
    assert boxes.exists(kept[held].mailbox_id) and boxes.exists(kept[in_held_domain].mailbox_id)
    assert services.backends.retained.by_id(kept[young].mailbox_id) is None  # 7 days passed: young went too
    reasons = {k.retained.email: k.reason for k in report.kept}
    assert "legal hold" in reasons[held] and "legal hold" in reasons[in_held_domain]
    assert audit.count(action="account.purge", object_id=expired) == 1
    with pytest.raises(NotFound):
        services.lifecycle.restore(kept[expired].mailbox_id)

    services.holds.release_account(held)  # released: the next purge removes it
    PurgeService(services.backends, operator, clock=lambda: ten_days_later).run()
    assert not boxes.exists(kept[held].mailbox_id)
    assert boxes.exists(kept[in_held_domain].mailbox_id)
    services.holds.release_domain(held_domain)


def test_the_purge_forgets_the_recovery_address_and_reset_links_a_restore_would_have_kept(
        services: Services) -> None:
    """A recovery address is outside the service (issue 20): kept while the account may be
    restored, gone with its purge."""
    domain = f"rc{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(domain, retention_days="7")
    resets = PasswordResets(services.backends.store)
    now = datetime.now(UTC)
    ids = {}
    for name in ("leaving", "restored"):
        address = f"{name}-{uuid.uuid4().hex[:6]}@{domain}"
        services.accounts.add(address, PasswordInput(plain=OLD))
        ids[name] = services.accounts.get(address).mailbox_id
        resets.set_recovery(ids[name], f"{name}@example.org", now)
        resets.add_token(f"{name:0<64}", "reset", ids[name], f"{name}@example.org", now, 3600)
        services.accounts.delete(address)
    services.lifecycle.restore(ids["restored"])

    operator = Actor("purge-test", Role.SUPERADMIN, origin="test")
    PurgeService(services.backends, operator, clock=lambda: now + timedelta(days=10)).run()
    assert services.backends.retained.by_id(ids["leaving"]) is None
    assert resets.recovery(ids["leaving"]) is None
    assert resets.valid(f"{'leaving':0<64}", "reset", now) is None
    assert resets.recovery(ids["restored"]) == Recovery("restored@example.org", None)
    assert resets.valid(f"{'restored':0<64}", "reset", now) is not None


def test_a_purge_killed_half_way_is_finished_by_the_next(services: Services, domain: str,
                                                         mail: MailClients) -> None:
    address = f"gone@{domain}"
    _with_mail(services, mail, address, OLD, "bye")
    kept = services.accounts.delete(address)
    boxes = services.backends.mailboxes
    services.backends.retained.mark_purging(kept)  # as a purge does, then "killed" after moving the mailbox aside
    aside = boxes.root / ".purging" / kept.mailbox_id
    aside.parent.mkdir(exist_ok=True)
    boxes.home(kept.mailbox_id).rename(aside)
    with pytest.raises(InvalidInput, match="purge .* has begun"):
        services.lifecycle.restore(kept.mailbox_id)
    operator = Actor("purge-test", Role.SUPERADMIN, origin="test")
    report = PurgeService(services.backends, operator).run()  # today: not yet expired, but its purge had begun
    assert kept.mailbox_id in {r.mailbox_id for r in report.purged}
    assert not aside.exists() and services.backends.retained.by_id(kept.mailbox_id) is None


def test_rename_keeps_mailbox_and_password_and_the_old_address_only_when_asked(
        services: Services, domain: str, mail: MailClients, stack: Settings) -> None:
    old, new, newer = f"malee.t@{domain}", f"malee.s@{domain}", f"malee.k@{domain}"
    _with_mail(services, mail, old, OLD, "before the wedding")
    services.aliases.add(f"team@{domain}", (old,))
    assert mail.can_login(old, OLD)  # Dovecot caches this login

    account = services.lifecycle.rename(old, new)
    assert account.mailbox_id == services.accounts.get(new).mailbox_id
    mail.deliver(new, _message("after the wedding"))
    assert _subjects(mail, new, OLD) == ["after the wedding", "before the wedding"]
    assert not mail.can_login(old, OLD)
    assert _lmtp_refusal(stack, old)[0] == 550
    assert services.aliases.get(f"team@{domain}").members == (new,)  # the group follows the person

    services.lifecycle.rename(new, newer, keep_old_as_alias=True)
    assert services.accounts.get(newer).aliases == (new,)
    assert services.backends.aliases.holder_of(new) == "account alias"
    assert mail.can_login(newer, OLD) and not mail.can_login(new, OLD)


def test_rename_to_one_of_its_own_aliases_and_across_domains(services: Services, domain: str) -> None:
    other = f"o{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(other)
    address = f"anan@{domain}"
    services.accounts.add(address, PasswordInput(plain=OLD), aliases=f"anan.k@{domain}", quota="1G")
    services.lifecycle.rename(address, f"anan.k@{domain}")
    assert services.accounts.get(f"anan.k@{domain}").aliases == ()
    before = (services.domains.get(domain).account_count, services.domains.get(other).account_count)
    # A rename killed between its two steps (domainName written, the entry not yet moved) ...
    services.backends.gateway.replace(services.backends.layout.account(f"anan.k@{domain}"), {"domainName": other})
    moved = services.lifecycle.rename(f"anan.k@{domain}", f"anan@{other}")  # ... is finished by running it again
    assert moved.domain == other
    after = (services.domains.get(domain).account_count, services.domains.get(other).account_count)
    assert after == (before[0] - 1, before[1] + 1)
    assert [a.email for a in services.accounts.iter_domain(other)] == [f"anan@{other}"]


def test_bad_requests_are_refused_and_change_nothing(services: Services, domain: str,
                                                     audit: AuditProbe) -> None:
    taken, mover, holder = f"taken@{domain}", f"mover@{domain}", f"holder@{domain}"
    services.accounts.add(taken, PasswordInput(plain=OLD))
    services.accounts.add(holder, PasswordInput(plain=OLD), aliases=f"alias.of.holder@{domain}")
    services.accounts.add(mover, PasswordInput(plain=OLD))
    kept = services.accounts.delete(mover)
    services.accounts.add(mover, PasswordInput(plain=NEW))  # the address is taken again
    records = audit.count(domain=domain)

    with pytest.raises(NotFound):
        services.lifecycle.restore("00000000-1111-2222-3333-444444444444")
    with pytest.raises(AlreadyExists):
        services.lifecycle.restore(kept.mailbox_id)  # onto its own address, now taken
    with pytest.raises(AlreadyExists):
        services.lifecycle.restore(kept.mailbox_id, as_address=taken)
    with pytest.raises(InvalidInput) as outside:
        services.lifecycle.restore(kept.mailbox_id, as_address="mover@elsewhere.go.th")
    assert outside.value.field == "as"
    with pytest.raises(AlreadyExists):
        services.lifecycle.rename(mover, taken)
    with pytest.raises(AlreadyExists):
        services.lifecycle.rename(mover, f"alias.of.holder@{domain}")
    with pytest.raises(InvalidInput) as days:
        services.domains.set(domain, retention_days="3651")
    assert days.value.field == "retention_days"
    with pytest.raises(InvalidInput):
        services.domains.set(domain, retention_days="-1")
    with pytest.raises(InvalidInput) as reason:
        services.holds.hold_account(taken, "   ")
    assert reason.value.field == "reason"

    assert services.backends.retained.by_id(kept.mailbox_id) is not None
    assert services.accounts.get(mover).mailbox_id != kept.mailbox_id
    assert services.domains.get(domain).limits.retention_days == 30
    assert services.accounts.get(taken).hold_reason == ""
    assert audit.count(domain=domain) == records


def test_holds_and_the_purge_are_for_operators_only(stack: Settings, services: Services, domain: str) -> None:
    address = f"staff@{domain}"
    services.accounts.add(address, PasswordInput(plain=OLD))
    kept_address = f"left@{domain}"
    services.accounts.add(kept_address, PasswordInput(plain=OLD))
    kept = services.accounts.delete(kept_address)
    other = f"z{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(other)
    outsider = f"outsider@{other}"
    services.accounts.add(outsider, PasswordInput(plain=OLD))
    login = f"adm-{uuid.uuid4().hex[:8]}"
    services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=OLD), domains=(domain,))
    with Services.open(stack, Actor(login, Role.DOMAIN_ADMIN, frozenset({domain}), origin="test")) as admin:
        for attempt in (lambda: admin.holds.hold_account(address, "mine"),
                        lambda: admin.holds.hold_account(kept.mailbox_id, "mine"),
                        lambda: admin.holds.hold_domain(domain, "mine"),
                        lambda: admin.holds.release_domain(domain),
                        lambda: admin.purge.run()):
            with pytest.raises(PermissionDenied):
                attempt()
        # ... outside its domains it learns nothing, not even that a hold would be refused
        with pytest.raises(NotFound):
            admin.holds.hold_account(outsider, "theirs")
        with pytest.raises(NotFound):
            admin.holds.hold_domain(other, "theirs")
        # ... and it restores and lists its own domain's deleted accounts
        assert [r.mailbox_id for r in admin.lifecycle.deleted(domain)] == [kept.mailbox_id]
    assert services.accounts.get(address).hold_reason == ""


def test_slapd_keeps_a_domain_admin_to_its_domains_and_off_holds(stack: Settings, services: Services,
                                                                  domain: str) -> None:
    other = f"x{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(other)
    mine, theirs = f"mine@{domain}", f"theirs@{other}"
    for address in (mine, theirs):
        services.accounts.add(address, PasswordInput(plain=OLD))
    kept_mine, kept_theirs = services.accounts.delete(mine), services.accounts.delete(theirs)
    login = f"adm-{uuid.uuid4().hex[:8]}"
    services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=OLD), domains=(domain,))
    layout = services.backends.layout
    conn = ldap3.Connection(ldap3.Server(stack.host, port=stack.ldap_port, get_info=ldap3.NONE),
                            user=layout.admin(login), password=OLD, auto_bind=True)
    try:
        conn.search(layout.retained, "(objectClass=mgtAccount)", attributes=["mail", "entryUUID"])
        seen = {e["raw_attributes"]["entryUUID"][0].decode() for e in conn.response if e["type"] == "searchResEntry"}
        assert kept_mine.mailbox_id in seen and kept_theirs.mailbox_id not in seen
        live = f"held.here@{domain}"
        services.accounts.add(live, PasswordInput(plain=OLD))
        assert not conn.modify(layout.account(live), {"mgtHoldReason": [(ldap3.MODIFY_REPLACE, ["mine now"])]})
        assert conn.result["result"] == 50  # insufficient access
        services.holds.hold_account(live, "order 1/2569")
        assert not conn.modify(layout.account(live), {"mgtHoldReason": [(ldap3.MODIFY_DELETE, [])]})
        assert services.accounts.get(live).hold_reason == "order 1/2569"
        services.holds.release_account(live)
        # Moving deleted entries across agencies, bypassing the application: refused by slapd.
        mine_dn = layout.retained_account(ldap_time(kept_mine.deleted_at))
        theirs_dn = layout.retained_account(ldap_time(kept_theirs.deleted_at))
        assert not conn.modify_dn(mine_dn, f"mail={mine.replace(domain, other)}", new_superior=layout.users(other))
        assert not conn.modify_dn(theirs_dn, f"mail=stolen@{domain}", new_superior=layout.users(domain))
        assert services.backends.retained.by_id(kept_theirs.mailbox_id) is not None
        assert services.backends.retained.by_id(kept_mine.mailbox_id) is not None
    finally:
        conn.unbind()
    # A deleted account cannot bind with its password; entryUUID can be written by nobody.
    gone = ldap3.Connection(ldap3.Server(stack.host, port=stack.ldap_port, get_info=ldap3.NONE),
                            user=layout.retained_account(ldap_time(kept_mine.deleted_at)), password=OLD)
    try:
        assert not gone.bind()
    finally:
        gone.unbind()
    app = ldap3.Connection(ldap3.Server(stack.host, port=stack.ldap_port, get_info=ldap3.NONE),
                           user=stack.ldap_app_dn, password=str(stack.ldap_app_password), auto_bind=True)
    try:
        services.accounts.add(f"fixed@{domain}", PasswordInput(plain=OLD))
        assert not app.modify(layout.account(f"fixed@{domain}"),
                              {"entryUUID": [(ldap3.MODIFY_REPLACE, [kept_theirs.mailbox_id])]})
    finally:
        app.unbind()


def test_deleting_a_domain_keeps_its_accounts_until_an_operator_adds_it_again(
        services: Services, mail: MailClients) -> None:
    name = f"d{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(name, retention_days="90")
    address = f"records@{name}"
    _with_mail(services, mail, address, OLD, "archive index")
    services.aliases.add(f"all@{name}", (address,))
    with pytest.raises(InvalidInput):
        services.domains.delete(name)  # accounts left: refused without force
    services.holds.hold_domain(name, "inquiry")
    with pytest.raises(InvalidInput, match="legal hold"):
        services.domains.delete(name, force=True)
    services.holds.release_domain(name)

    with mail.imap(address, OLD) as session:
        session.select_folder("INBOX")
        services.domains.delete(name, force=True)
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            session.noop()
    assert services.backends.domains.find(name) is None
    assert not mail.can_login(address, OLD)
    kept = services.lifecycle.deleted(name)  # an operator still sees them
    assert [r.email for r in kept] == [address]
    assert kept[0].purge_after - kept[0].deleted_at == timedelta(days=90)
    with pytest.raises(InvalidInput, match="no longer exists"):
        services.lifecycle.restore(address)

    services.domains.add(name)
    services.lifecycle.restore(address)
    assert _subjects(mail, address, OLD) == ["archive index"]


def test_several_deletions_of_one_address_need_the_id(services: Services, domain: str) -> None:
    address = f"it@{domain}"
    ids = []
    for _ in range(2):
        services.accounts.add(address, PasswordInput(plain=OLD))
        ids.append(services.accounts.delete(address).mailbox_id)
    with pytest.raises(InvalidInput) as ambiguous:
        services.lifecycle.restore(address)
    assert all(i in ambiguous.value.reason for i in ids)
    services.lifecycle.restore(ids[0])
    assert services.accounts.get(address).mailbox_id == ids[0]


def test_the_mailbox_lives_under_its_id_never_its_address(services: Services, domain: str,
                                                          mail: MailClients, stack: Settings) -> None:
    address = f"path@{domain}"
    _with_mail(services, mail, address, OLD, "where am I")
    mailbox_id = services.accounts.get(address).mailbox_id
    home = services.backends.mailboxes.home(mailbox_id)
    assert home == stack.mailbox_root_path.resolve() / mailbox_id[:2] / mailbox_id
    assert any((home / "Maildir" / "new").iterdir())
    assert not any(Path(stack.mailbox_root_path).glob(f"**/{address.split('@')[0]}"))


def test_a_domain_admin_deletes_restores_renames_and_hands_over_in_its_domain_only(
        stack: Settings, services: Services, domain: str, mail: MailClients) -> None:
    other = f"y{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(other)
    outsider = f"outsider@{other}"
    services.accounts.add(outsider, PasswordInput(plain=OLD))
    kept_outside = services.accounts.delete(outsider)
    login = f"adm-{uuid.uuid4().hex[:8]}"
    services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=OLD), domains=(domain,))
    leaver, heir = f"leaver@{domain}", f"heir@{domain}"
    _with_mail(services, mail, leaver, OLD, "hand me over")
    services.accounts.add(heir, PasswordInput(plain=NEW))
    with Services.open(stack, Actor(login, Role.DOMAIN_ADMIN, frozenset({domain}), origin="test")) as admin:
        kept = admin.accounts.delete(leaver)  # every directory write below runs as the admin's own DN
        assert admin.lifecycle.handover(leaver, heir).messages == 1
        admin.lifecycle.restore(kept.mailbox_id, as_address=f"leaver.back@{domain}")
        admin.lifecycle.rename(f"leaver.back@{domain}", f"returned@{domain}")
        for attempt in (lambda: admin.lifecycle.restore(kept_outside.mailbox_id),
                        lambda: admin.lifecycle.restore(outsider),
                        lambda: admin.lifecycle.deleted(other),
                        lambda: admin.lifecycle.handover(kept_outside.mailbox_id, heir),
                        lambda: admin.lifecycle.rename(f"returned@{domain}", f"returned@{other}")):
            with pytest.raises(NotFound):
                attempt()
    assert _subjects(mail, f"returned@{domain}", OLD) == ["hand me over"]
    assert _subjects(mail, heir, NEW, f"Archive/{leaver}/INBOX") == ["hand me over"]
    assert services.backends.retained.by_id(kept_outside.mailbox_id) is not None
