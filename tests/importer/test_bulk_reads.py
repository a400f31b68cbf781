"""Bulk reads (export, a dry run's preload) decode search entries straight from the wire
(directory/wire.py): the result must equal ldap3's own decoding, entry for entry, on
real slapd entries with Thai names, many values, long values and awkward characters."""

from __future__ import annotations

import uuid

import ldap3

from mailgothai.core.models import Account, Status
from mailgothai.directory import accounts as account_entries
from mailgothai.directory.entries import from_ldap3
from mailgothai.directory.holders import holder_from, preload_domain
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services


def _accounts(services: Services, domain: str) -> list[Account]:
    made = []
    for i in range(130):  # more than one page of 50 below
        made.append(services.accounts.add(
            f"u{i}{'x' * (i % 40)}@{domain}", PasswordInput(plain="Wire-test-pass-1"),
            given_name=["สมชาย", "*)(uid=*", "Smith, John", ""][i % 4], surname="ศรีสุข" * (1 + i % 30),
            display_name="=HYPERLINK(\"x\") " + "ก" * ((i % 80) * 3), quota=f"{1 + i % 5}G",
            aliases=tuple(f"a{i}.{k}@{domain}" for k in range(i % 4)),
            forwards=tuple(f"f{i}.{k}@example.org" for k in range(i % 3)),
            status="disabled" if i % 7 == 0 else "active").account)
    return made


def test_wire_decoding_equals_ldap3s_own(services: Services, domain: str) -> None:
    made = _accounts(services, domain)
    gateway, layout = services.backends.gateway, services.backends.layout
    base, flt = layout.users(domain), f"(domainName={domain})"
    attributes = [*account_entries.ATTRS, "objectClass", "cn", "entryUUID"]

    fast = list(gateway.iter_paged(base, flt, attributes, page_size=50))  # 3 pages, through wire.py
    with gateway.connection() as conn:  # ldap3's own decoding of the same entries
        conn.search(base, flt, ldap3.SUBTREE, attributes=attributes)
        own = [from_ldap3(item) for item in conn.response if item.get("type") == "searchResEntry"]

    assert len(fast) == len(own) == len(made)
    assert {e.dn: e.attrs for e in fast} == {e.dn: e.attrs for e in own}
    assert all(isinstance(v, bytes) for e in fast for values in e.attrs.values() for v in values)
    long_values = [v for e in fast for v in e.attrs["displayname"] if len(v) > 127]
    assert long_values  # BER long-form lengths were decoded too
    # ... and the accounts read through it are exactly the ones written
    assert sorted(services.accounts.iter_domain(domain), key=lambda a: a.email) == sorted(made, key=lambda a: a.email)
    with gateway.connection() as conn:  # the connection went back to ldap3's own path
        conn.search(base, flt, ldap3.SUBTREE, attributes=["mail"])
        assert len([r for r in conn.response if r.get("type") == "searchResEntry"]) == len(made)


def test_preload_holds_every_address_of_a_domain(services: Services, domain: str) -> None:
    made = {a.email: a for a in _accounts(services, domain)}
    alias = f"helpdesk{uuid.uuid4().hex[:6]}@{domain}"
    services.aliases.add(alias, (next(iter(made)),))
    known: dict = {}
    n = preload_domain(services.backends.gateway, services.backends.layout, domain, known)
    aliases = {a for account in made.values() for a in account.aliases}
    assert n == len(made) + 1
    assert set(known) == set(made) | aliases | {alias}
    for email, account in made.items():
        holder = holder_from(email, known[email])
        assert holder.kind == "account" and holder.account == account
    assert {holder_from(a, known[a]).kind for a in aliases} == {"account alias"}
    assert holder_from(alias, known[alias]).kind == "alias"
    assert any(a.status is Status.DISABLED for a in made.values())
