"""Sorted listings against the session's real slapd: the lean decoding of entries, one
sort context shared by the admins of a domain, and the warmer keeping large domains'
default view sorted ahead of the first click."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mailgothai.core.models import Role
from mailgothai.core.passwords import Argon2Params, hash_password
from mailgothai.directory.accounts import ATTRS
from mailgothai.directory.vlv import SortedLister
from mailgothai.errors import NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.listing import BY_MAIL, ListingService
from mailgothai.services.listing_warmer import ListingWarmer
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from tests.web.conftest import World

pytestmark = pytest.mark.sql

OPERATOR = Actor("test-operator", Role.SUPERADMIN, origin="test")


@pytest.fixture
def backends(web_settings: Settings) -> Iterator[Backends]:
    b = Backends.open(web_settings)
    yield b
    b.close()


@pytest.fixture
def lister() -> Iterator[SortedLister]:
    made = SortedLister()
    yield made
    made.close()


@pytest.fixture
def domain(web_settings: Settings) -> str:
    name = f"list{uuid.uuid4().hex[:8]}.go.th"
    stored = hash_password("Listing-test-1", Argon2Params(1, 1024, 1))
    with Services.open(web_settings, OPERATOR) as svc:
        svc.domains.add(name, description="listing")
        for local, given in (("wanchai", "วันชัย"), ("anan", "อนันต์"), ("malee", "มาลี"), ("somsak", "สมศักดิ์")):
            svc.accounts.add(f"{local}@{name}", PasswordInput(stored_hash=stored), given_name=given, surname="ทดสอบ")
    return name


def test_lean_entries_equal_ldap3s_own_decoding(backends: Backends, lister: SortedLister, domain: str) -> None:
    _, page = ListingService(backends, OPERATOR, lister).accounts(domain)
    assert [a.email for a in page.items] == sorted(a.email for a in page.items) and page.total == 4
    plain = {a.email: a for a in backends.accounts.iter_domain(domain)}  # the pool's connections: ldap3's decoding
    assert {a.email: a for a in page.items} == plain
    entries = backends.gateway.search(backends.layout.users(domain), f"(domainName={domain})", ATTRS)
    window = lister.window(backends.gateway, backends.layout.users(domain), f"(domainName={domain})",
                           (BY_MAIL,), 0, 10, ATTRS)
    assert {e.dn: e.attrs for e in window.entries} == {e.dn: e.attrs for e in entries}
    assert all(isinstance(v, bytes) for e in window.entries for values in e.attrs.values() for v in values)
    _, down = ListingService(backends, OPERATOR, lister).accounts(domain, descending=True)  # reverseOrder TRUE
    assert [a.email for a in down.items] == sorted((a.email for a in page.items), reverse=True)


def test_admins_of_a_domain_share_one_sort_context(backends: Backends, lister: SortedLister, web_settings: Settings,
                                                    world: World, domain: str) -> None:
    with Services.open(web_settings, OPERATOR) as svc:
        admin = f"da-list-{uuid.uuid4().hex[:6]}"
        svc.admins.add(admin, Role.DOMAIN_ADMIN, PasswordInput(plain="Listing-admin-1"), domains=(domain,))
    own = Actor(admin, Role.DOMAIN_ADMIN, frozenset({domain}), origin="test")
    as_admin = ListingService(backends.acting_for(admin), own, lister)
    _, first = as_admin.accounts(domain)
    assert lister.full_sorts == 1 and first.total == 4
    _, again = ListingService(backends, OPERATOR, lister).accounts(domain, offset=2, size=2)
    assert lister.full_sorts == 1, "the operator's window came from the admin's sort"
    assert [a.email for a in again.items] == [a.email for a in first.items][2:]
    with pytest.raises(NotFound):  # outside its domains: refused before any listing
        as_admin.accounts(world.b)
    assert lister.full_sorts == 1


def test_the_warmer_sorts_ahead_and_again_once_a_change_has_settled(
        backends: Backends, lister: SortedLister, web_settings: Settings, domain: str) -> None:
    # this domain only: the session's directory holds more domains of 4 accounts than the lister keeps
    warmer = ListingWarmer(backends, lister, rescan=0, domains=(domain,))
    warmer.run_once()
    assert lister.kept() >= 1
    service = ListingService(backends, OPERATOR, lister)
    sorts = lister.full_sorts
    _, page = service.accounts(domain)
    assert lister.full_sorts == sorts, "the first click found the default view sorted"
    assert warmer.run_once() == 0  # nothing changed: nothing sorted again

    with Services.open(web_settings, OPERATOR) as svc:
        svc.accounts.add(f"aaron@{domain}", PasswordInput(generate=True))
    assert warmer.run_once() == 0  # the domain just changed: wait one round for it to settle
    assert warmer.run_once() == 1
    sorts = lister.full_sorts
    _, page = service.accounts(domain)
    assert lister.full_sorts == sorts and page.total == 5 and page.items[0].email == f"aaron@{domain}"
