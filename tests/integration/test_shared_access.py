"""Shared role mailboxes and who may manage them (issue 17): a domain admin manages the
shared mailboxes of its own domains and nothing of another's, in the service layer and in
slapd itself; the mail servers' DN reads the memberships (Dovecot's acl_groups, the relay's
send-as) and writes none."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import ldap3
import pytest

from integration.conftest import AuditProbe, MailClients
from mailgothai.core.models import Role
from mailgothai.directory.layout import Layout
from mailgothai.directory.shared import shared_container, shared_dn
from mailgothai.errors import NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.sql]
ADMIN_PASSWORD = "Admin-of-A-pw1"
USER_PASSWORD = "User-in-dom-pw2"
INSUFFICIENT = 50


@dataclass(frozen=True)
class Agencies:
    a: str
    b: str
    admin: str
    admin_dn: str
    user_a: str
    user_b: str


@pytest.fixture
def agencies(stack: Settings, services: Services, layout: Layout) -> Agencies:
    tag = uuid.uuid4().hex[:8]
    a, b = f"sa{tag}.go.th", f"sb{tag}.go.th"
    for name in (a, b):
        services.domains.add(name, description="agency")
    user_a, user_b = f"somchai@{a}", f"malee@{b}"
    for email in (user_a, user_b):
        services.accounts.add(email, PasswordInput(plain=USER_PASSWORD))
    admin = f"sadm-{tag}"
    services.admins.add(admin, Role.DOMAIN_ADMIN, PasswordInput(plain=ADMIN_PASSWORD), domains=(a,))
    return Agencies(a, b, admin, layout.admin(admin), user_a, user_b)


def _conn(stack: Settings, dn: str, password: str) -> ldap3.Connection:
    conn = ldap3.Connection(ldap3.Server(stack.host, port=stack.ldap_port, get_info=ldap3.NONE), user=dn,
                            password=password, raise_exceptions=False)
    assert conn.bind(), conn.result
    return conn


def test_a_domain_admin_manages_the_shared_mailboxes_of_its_domain_only(
        stack: Settings, services: Services, agencies: Agencies, mail: MailClients, audit: AuditProbe) -> None:
    actor = Actor(agencies.admin, Role.DOMAIN_ADMIN, frozenset({agencies.a}), origin="test")
    with Services.open(stack, actor) as svc:
        # its own domain: the first shared mailbox also makes the domain's ou=shared, as the admin
        svc.shared.add(f"saraban@{agencies.a}", name="สารบรรณ")
        svc.shared.add_member(f"saraban@{agencies.a}", agencies.user_a, "read,send-as")
        assert [(m.email, m.rights_text) for m in svc.shared.show(f"saraban@{agencies.a}").members] == [
            (agencies.user_a, "read,send-as")]
        # another agency's domain: as if it did not exist, and nothing is made there
        with pytest.raises(NotFound):
            svc.shared.add(f"saraban@{agencies.b}")
        with pytest.raises(NotFound):
            svc.shared.for_domain(agencies.b)
    assert services.shared.for_domain(agencies.b) == []
    assert audit.count(action="shared.create", object_id=f"saraban@{agencies.a}") == 1
    assert audit.count(action="shared.member.add", object_id=f"saraban@{agencies.a}") == 1
    mail.deliver(f"saraban@{agencies.a}", b"Subject: hello\r\n\r\nletter\r\n")
    with mail.imap(agencies.user_a, USER_PASSWORD) as client:
        assert f"Shared/saraban@{agencies.a}" in [name for _, _, name in client.list_folders()]


def test_slapd_keeps_a_domain_admin_out_of_another_domains_shared_mailboxes(
        stack: Settings, services: Services, agencies: Agencies, layout: Layout) -> None:
    services.shared.add(f"saraban@{agencies.b}")
    conn = _conn(stack, agencies.admin_dn, ADMIN_PASSWORD)
    # no membership written on another domain's account
    conn.modify(layout.account(agencies.user_b), {
        "objectClass": [(ldap3.MODIFY_ADD, ["mgtSharedMember"])],
        "mgtSharedAccess": [(ldap3.MODIFY_ADD, ["shared-00000000-0000-0000-0000-000000000000-read"])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    # no shared mailbox made, changed or removed in another domain
    conn.add(shared_dn(layout, f"intruder@{agencies.b}"), ["mgtSharedMailbox"], {
        "mail": f"intruder@{agencies.b}", "domainName": agencies.b, "mgtStatus": "active", "mgtQuota": "1"})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.modify(shared_dn(layout, f"saraban@{agencies.b}"), {"mgtStatus": [(ldap3.MODIFY_REPLACE, ["disabled"])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.delete(shared_dn(layout, f"saraban@{agencies.b}"))
    assert conn.result["result"] != 0
    conn.search(shared_container(layout, agencies.b), "(objectClass=*)", attributes=["mail"])
    assert [e for e in conn.response if e.get("type") == "searchResEntry"] == []
    conn.unbind()
    assert [s.shared.address for s in services.shared.for_domain(agencies.b)] == [f"saraban@{agencies.b}"]
    assert services.shared.get(f"saraban@{agencies.b}").status.value == "active"


def test_the_mail_servers_read_memberships_and_write_none(stack: Settings, services: Services,
                                                          agencies: Agencies, layout: Layout) -> None:
    shared = services.shared.add(f"saraban@{agencies.a}")
    services.shared.add_member(shared.address, agencies.user_a, "write")
    conn = _conn(stack, stack.ldap_mail_dn, str(stack.ldap_mail_password))
    conn.search(layout.account(agencies.user_a), "(objectClass=*)", ldap3.BASE, attributes=["mgtSharedAccess"])
    assert conn.response[0]["raw_attributes"]["mgtSharedAccess"] == [f"shared-{shared.mailbox_id}-write".encode()]
    conn.modify(layout.account(agencies.user_a), {"mgtSharedAccess": [(ldap3.MODIFY_REPLACE, ["x"])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.search(shared_dn(layout, shared.address), "(objectClass=*)", ldap3.BASE, attributes=["mail", "entryUUID"])
    assert conn.response[0]["raw_attributes"]["entryUUID"] == [shared.mailbox_id.encode()]
    conn.unbind()
