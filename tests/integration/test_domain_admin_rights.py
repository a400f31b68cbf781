"""A deleted domain takes its admins' rights with it, against the real slapd: the name,
added again (perhaps for another agency), gives its former admins nothing, neither through
the services nor through slapd's own rules when the admin binds itself."""

from __future__ import annotations

import dataclasses
import uuid

import ldap3
import pytest

from mailgothai.core.models import Role
from mailgothai.errors import NotFound
from mailgothai.services.actor import admin_actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from tests.integration.conftest import AuditProbe

pytestmark = [pytest.mark.integration, pytest.mark.sql]

PW = "Admin-rights-pw-1x"


def _seen_by_bind(stack: Settings, services: Services, login: str, domain: str) -> list[str]:
    """The accounts of `domain` slapd shows the admin bound with its own password."""
    layout = services.backends.layout
    conn = ldap3.Connection(ldap3.Server(stack.host, port=stack.ldap_port, get_info=ldap3.NONE),
                            user=layout.admin(login), password=PW, auto_bind=True)
    try:
        conn.search(layout.users(domain), "(objectClass=mgtAccount)", attributes=["mail"])
        return sorted(e["raw_attributes"]["mail"][0].decode() for e in conn.response if e["type"] == "searchResEntry")
    finally:
        conn.unbind()


def test_a_deleted_domain_is_taken_off_its_admins_and_a_re_added_one_gives_them_nothing(
        stack: Settings, services: Services, domain: str, audit: AuditProbe) -> None:
    gone = f"g{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(gone)
    login = f"adm-{uuid.uuid4().hex[:8]}"
    services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PW), domains=(gone, domain))
    services.accounts.add(f"before@{gone}", PasswordInput(plain=PW))
    assert _seen_by_bind(stack, services, login, gone) == [f"before@{gone}"]  # its rights, while it had them

    services.domains.delete(gone, force=True)
    assert services.admins.get(login).domains == (domain,)
    assert audit.count(action="admin.update", object_id=login) == 1

    services.domains.add(gone)  # the name again, perhaps for another agency
    services.accounts.add(f"after@{gone}", PasswordInput(plain=PW))
    assert services.admins.get(login).domains == (domain,)
    actor = admin_actor(services.backends.admins.get(login), origin="test")
    with Services.open(stack, actor) as admin:
        with pytest.raises(NotFound):
            admin.domains.get(gone)
        with pytest.raises(NotFound):
            admin.accounts.get(f"after@{gone}")
        assert admin.domains.get(domain).name == domain  # its other domain stays its own
    assert _seen_by_bind(stack, services, login, gone) == []  # slapd refuses it too
    services.accounts.add(f"kept@{domain}", PasswordInput(plain=PW))
    assert _seen_by_bind(stack, services, login, domain) == [f"kept@{domain}"]  # and keeps its other domain


def test_an_admin_left_with_no_domain_stays_with_none(services: Services) -> None:
    only = f"o{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(only)
    login = f"adm-{uuid.uuid4().hex[:8]}"
    services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PW), domains=(only,))
    services.domains.delete(only)
    assert services.admins.get(login).domains == ()


def test_adding_a_name_sweeps_rights_left_by_a_deletion_before_this_fix(
        stack: Settings, services: Services, domain: str) -> None:
    # Domains deleted by an older version left their name on their admins (and an admin
    # can only be given a domain that exists): adding the name again takes it off them.
    stale = f"s{uuid.uuid4().hex[:10]}.go.th"
    login = f"adm-{uuid.uuid4().hex[:8]}"
    services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PW), domains=(domain,))
    left = services.backends.admins.get(login)
    services.backends.admins.save(dataclasses.replace(left, domains=(domain, stale.upper())))
    services.domains.add(stale)
    services.accounts.add(f"new@{stale}", PasswordInput(plain=PW))
    assert services.admins.get(login).domains == (domain,)
    assert _seen_by_bind(stack, services, login, stale) == []
