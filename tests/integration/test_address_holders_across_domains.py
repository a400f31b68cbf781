"""An address has one holder in the whole directory, whoever adds it: a domain admin's own
reads (under slapd's ACLs) do not see other domains' entries, so the account service asks
as the application (issue: an alias of another domain's account was invisible to D's admin)."""

from __future__ import annotations

import uuid

import pytest

from mailgothai.directory import escaping as f
from mailgothai.errors import AlreadyExists, InvalidInput
from mailgothai.services.actor import admin_actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings


def test_domain_admin_cannot_take_an_address_held_by_another_domains_account(services: Services,
                                                                            stack: Settings) -> None:
    t = uuid.uuid4().hex[:8]
    mine, other = f"m{t}.go.th", f"o{t}.go.th"
    for d in (mine, other):
        services.domains.add(d)
    services.accounts.add(f"xo@{other}", PasswordInput(generate=True), aliases=f"xa@{mine}")
    admin, _ = services.admins.add(f"adm-{t}", "domain_admin", PasswordInput(generate=True), domains=(mine,))
    actor = admin_actor(admin, "test")
    with Services.open(stack, actor) as svc:
        with pytest.raises(InvalidInput) as caught:
            svc.accounts.add(f"new@{mine}", PasswordInput(generate=True), aliases=f"xa@{mine}")
        assert "in use by an account alias" in str(caught.value) and other not in str(caught.value)
        with pytest.raises(AlreadyExists):
            svc.accounts.add(f"xa@{mine}", PasswordInput(generate=True))
        svc.accounts.add(f"keep@{mine}", PasswordInput(generate=True))
        with pytest.raises(InvalidInput):
            svc.accounts.update(f"keep@{mine}", aliases=f"xa@{mine}")
    b = services.backends
    flt = f.any_of(f.eq("mail", f"xa@{mine}"), f.eq("mgtAliasAddress", f"xa@{mine}"))
    assert len(b.gateway.search(b.layout.domains, flt, ("mail",))) == 1
    assert b.accounts.find(f"new@{mine}") is None


def test_domain_admin_cannot_make_an_alias_or_shared_mailbox_of_another_domains_alias(
        services: Services, stack: Settings) -> None:
    """The alias and shared-mailbox services ask the same: an alias entry or a shared
    mailbox at an address another domain's account holds as its alias is refused."""
    t = uuid.uuid4().hex[:8]
    mine, other = f"m{t}.go.th", f"o{t}.go.th"
    for d in (mine, other):
        services.domains.add(d, quota_pool="10G", default_quota="1G")
    services.accounts.add(f"xo@{other}", PasswordInput(generate=True), aliases=f"xa@{mine},xs@{mine}")
    services.accounts.add(f"staff@{mine}", PasswordInput(generate=True))
    admin, _ = services.admins.add(f"adm-{t}", "domain_admin", PasswordInput(generate=True), domains=(mine,))
    with Services.open(stack, admin_actor(admin, "test")) as svc:
        with pytest.raises((AlreadyExists, InvalidInput)):
            svc.aliases.add(f"xa@{mine}", f"staff@{mine}")
        with pytest.raises((AlreadyExists, InvalidInput)):
            svc.shared.add(f"xs@{mine}")
    b = services.backends
    for address in (f"xa@{mine}", f"xs@{mine}"):
        flt = f.any_of(f.eq("mail", address), f.eq("mgtAliasAddress", address))
        assert len(b.gateway.search(b.layout.domains, flt, ("mail",))) == 1, address
