"""Accounts added together in one LDAP transaction (directory/batch.py, the importer's
way of writing) against the real slapd: all written, or none; the same entries as one at a
time; slapd's access rules still hold a domain admin to its own domains."""

from __future__ import annotations

import uuid

import pytest

from mailgothai.core.models import Account, Status
from mailgothai.errors import AlreadyExists, TransactionRefused
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services

HASH = "{CRYPT}x"  # a stored value nobody can log in with: these tests only write entries


def account(domain: str, local: str, **values: object) -> Account:
    fields: dict[str, object] = {"email": f"{local}@{domain}", "domain": domain, "quota": 1 << 30,
                                 "status": Status.ACTIVE, "given_name": "สมชาย", "surname": "ศรีสุข",
                                 "display_name": "", "aliases": (), "forwards": ()}
    fields.update(values)
    return Account(**fields)  # type: ignore[arg-type]


def test_accounts_added_together_are_there_exactly_as_one_added_alone(services: Services, domain: str) -> None:
    accounts = services.backends.accounts
    made = [account(domain, f"u{i}", display_name="ก" * (i * 30), aliases=(f"a{i}@{domain}",) * (i % 2),
                    forwards=(f"f{i}@example.org",) * (i % 3 == 0), status=Status.DISABLED if i == 3 else Status.ACTIVE)
            for i in range(40)]
    accounts.create_all([(a, HASH) for a in made])
    assert [accounts.find(a.email) for a in made] == made
    alone = account(domain, "alone", display_name="ก" * 30, aliases=(f"a-alone@{domain}",))
    accounts.create(alone, HASH)
    together = account(domain, "together", display_name="ก" * 30, aliases=(f"a-together@{domain}",))
    accounts.create_all([(together, HASH), (account(domain, "other"), HASH)])
    gateway, layout = services.backends.gateway, services.backends.layout
    written = {a.email: gateway.read(layout.account(a.email), ["*"]) for a in (alone, together)}
    one, two = (written[a.email] for a in (alone, together))
    assert one is not None and two is not None
    assert {k: v for k, v in one.attrs.items() if k not in ("mail", "mgtaliasaddress")} == \
        {k: v for k, v in two.attrs.items() if k not in ("mail", "mgtaliasaddress")}


def test_one_taken_address_and_none_is_written(services: Services, domain: str) -> None:
    accounts = services.backends.accounts
    services.accounts.add(f"taken@{domain}", PasswordInput(generate=True))
    batch = [account(domain, "first"), account(domain, "taken", given_name="อื่น"), account(domain, "third")]
    with pytest.raises(TransactionRefused) as refused:
        accounts.create_all([(a, HASH) for a in batch])
    assert refused.value.position == 1 and isinstance(refused.value.cause, AlreadyExists)
    assert accounts.find(f"first@{domain}") is None and accounts.find(f"third@{domain}") is None
    assert accounts.get(f"taken@{domain}").given_name == ""  # the one that was there is untouched
    # The pooled connections are fine afterwards: the same batch without the taken one goes in.
    accounts.create_all([(batch[0], HASH), (batch[2], HASH)])
    assert accounts.find(f"first@{domain}") == batch[0] and accounts.find(f"third@{domain}") == batch[2]


def test_a_missing_domain_refuses_the_whole_transaction(services: Services, domain: str) -> None:
    nowhere = f"gone{uuid.uuid4().hex[:8]}.go.th"
    with pytest.raises(TransactionRefused) as refused:
        services.backends.accounts.create_all([(account(domain, "here"), HASH), (account(nowhere, "x"), HASH)])
    assert refused.value.position == 1
    assert services.backends.accounts.find(f"here@{domain}") is None


def test_a_domain_admin_adds_only_in_its_own_domains_also_together(services: Services, domain: str) -> None:
    other = f"t{uuid.uuid4().hex[:10]}.go.th"
    services.domains.add(other)
    admin, _ = services.admins.add(f"adm-{uuid.uuid4().hex[:6]}", "domain_admin", PasswordInput(generate=True),
                                   domains=(domain,))
    as_admin = services.backends.acting_for(admin.login).accounts  # slapd's ACLs, not the service's checks
    as_admin.create_all([(account(domain, "mine1"), HASH), (account(domain, "mine2"), HASH)])
    assert services.backends.accounts.find(f"mine2@{domain}") is not None
    with pytest.raises(TransactionRefused) as refused:
        as_admin.create_all([(account(domain, "mine3"), HASH), (account(other, "theirs"), HASH)])
    assert refused.value.position == 1 and "refused access" in str(refused.value.cause)  # insufficientAccessRights
    assert services.backends.accounts.find(f"theirs@{other}") is None
    assert services.backends.accounts.find(f"mine3@{domain}") is None  # nothing of the refused batch


def test_addresses_looked_up_in_one_search_match_exactly_and_literally(services: Services, domain: str) -> None:
    from mailgothai.directory.holders import in_use

    services.accounts.add(f"Somchai.S@{domain}", PasswordInput(generate=True))
    services.aliases.add(f"helpdesk@{domain}", (f"somchai.s@{domain}",))
    backends = services.backends
    asked = [f"somchai.s@{domain}", f"HELPDESK@{domain}", f"nobody@{domain}", "*", f"*)(mail=*@{domain}",
             f"somchai.s@{domain}*"]
    assert in_use(backends.gateway, backends.layout, asked) == {f"somchai.s@{domain}", f"helpdesk@{domain}"}
    many = [f"n{i}@{domain}" for i in range(450)] + [f"somchai.s@{domain}"]  # more than one search's worth
    assert in_use(backends.gateway, backends.layout, many) == {f"somchai.s@{domain}"}
    entries = backends.gateway.search_equal(backends.layout.users(domain), "mail", [f"somchai.s@{domain}"],
                                            ("mail", "domainName"))
    assert [(e.first("mail"), e.first("domainName")) for e in entries] == [(f"Somchai.S@{domain}".lower(), domain)]
