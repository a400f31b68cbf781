"""Who holds many addresses at once: one search per batch instead of one per address.

Used by the importer to check a batch of rows against the directory (existing accounts,
account aliases, alias entries) with a single equality-indexed OR filter.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from mailgothai.core.csvimport.planning import Holder
from mailgothai.core.models import Account
from mailgothai.directory import accounts as account_entries
from mailgothai.directory import escaping as f
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.errors import NotFound

BATCH = 100  # addresses per search: 200 equality terms
PAGE = 1000  # entries per page when a whole domain is read
ATTRS = ("objectClass", *account_entries.ATTRS)


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _owner(address: str, owner: str) -> str:
    """The holder named to the actor: an entry of another domain than the address's is
    not named (a domain admin learns only that the address is in use, not which other
    agency's entry holds it)."""
    return owner if _domain_of(owner) == _domain_of(address) else address


def holders_of(gateway: Gateway, layout: Layout, addresses: Iterable[str]) -> dict[str, Holder]:
    """address -> the entry holding it, for every given address that is held, in the whole
    directory: read with the application's rights (the service has checked the actor's
    for the addresses; slapd's ACLs would hide another domain's entries from a domain admin)."""
    gateway = gateway.as_application()
    wanted = list(dict.fromkeys(addresses))
    found: dict[str, Holder] = {}
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start:start + BATCH]
        terms = [t for a in batch for t in (f.eq("mail", a), f.eq("mgtAliasAddress", a))]
        asked = set(batch)
        for entry in gateway.search(layout.domains, f.any_of(*terms), ATTRS):
            classes = {c.lower() for c in entry.all("objectClass")}
            mail = entry.first("mail").lower()
            if "mgtalias" in classes:
                found.setdefault(mail, Holder(mail, "alias", mail))
                continue
            if "mgtsharedmailbox" in classes:  # a shared role mailbox (issue 17) holds its address too
                found.setdefault(mail, Holder(mail, "shared mailbox", mail))
                continue
            if "mgtaccount" not in classes:
                continue
            account = account_entries.to_account(entry)
            if mail in asked:
                found[mail] = Holder(mail, "account", mail, account)
            for alias in account.aliases:
                if alias.lower() in asked:
                    found.setdefault(alias.lower(), Holder(alias.lower(), "account alias",
                                                           _owner(alias.lower(), mail)))
    return found


def holder_kind(gateway: Gateway, layout: Layout, address: str) -> str | None:
    """What holds `address` anywhere in the directory ('account', 'account alias', 'alias',
    'shared mailbox'), or None; read as the application (see holders_of)."""
    holder = holders_of(gateway, layout, [address.lower()]).get(address.lower())
    return holder.kind if holder is not None else None


# A compact record of an address in a preloaded domain: (kind, owner, account fields or None).
Compact = tuple[str, str, tuple[object, ...] | None]


def holder_from(address: str, record: Compact) -> Holder:
    kind, owner, fields = record
    account = Account(*fields) if fields is not None else None  # type: ignore[arg-type]
    return Holder(address, kind, owner, account)


def preload_domain(gateway: Gateway, layout: Layout, domain: str, into: dict[str, Compact]) -> int:
    """Every address held in `domain` (accounts, their aliases, alias entries), a page at a
    time, into `into`. Cheaper than per-address searches when a file covers much of a domain."""
    n = 0
    for fields in account_entries.AccountDirectory(gateway, layout).iter_fields(domain, page_size=PAGE):
        email = fields[0]  # the values the planner compares; an Account only for the rows that need one
        into[email] = ("account", email, (email, sys.intern(fields[1]), *fields[2:]))
        for alias in fields[7]:
            into.setdefault(alias.lower(), ("account alias", email, None))
        n += 1
    alias_filter = f.all_of(f.eq("objectClass", "mgtAlias"), f.eq("domainName", domain))
    for entry in gateway.iter_paged(layout.aliases(domain), alias_filter, ("mail",)):
        mail = entry.first("mail").lower()
        into.setdefault(mail, ("alias", mail, None))
        n += 1
    # shared role mailboxes (issue 17), in the domain's ou=shared when it has one
    shared_filter = f.all_of(f.eq("objectClass", "mgtSharedMailbox"), f.eq("domainName", domain))
    try:
        shared = gateway.search(f.dn("ou=shared", layout.domain(domain)), shared_filter, ("mail",))
    except NotFound:
        shared = []
    for entry in shared:
        mail = entry.first("mail").lower()
        into.setdefault(mail, ("shared mailbox", mail, None))
        n += 1
    return n


def preload_foreign_aliases(gateway: Gateway, layout: Layout, domains: set[str], into: dict[str, Compact]) -> int:
    """The aliases in `domains` of accounts of OTHER domains (mgtAliasAddress xa@D on xo@E),
    into `into` (preloaded domains are read under their own DN only): one search of the
    accounts that have any alias, for all the preloaded domains at once (mgtAliasAddress has
    no substring index: one pass over the directory, not one per domain). Read as the
    application, since slapd's ACLs hide E's entries from D's admin; the holder is not
    named to the actor. Returns how many were found."""
    if not domains:
        return 0
    n = 0
    with_aliases = f.all_of(f.eq("objectClass", "mgtAccount"), "(mgtAliasAddress=*)")
    for entry in gateway.as_application().iter_paged(layout.domains, with_aliases, ("domainName", "mgtAliasAddress")):
        own = entry.first("domainName").lower()
        for alias in entry.all("mgtAliasAddress"):
            alias = alias.lower()
            domain = _domain_of(alias)
            if domain in domains and domain != own:
                into.setdefault(alias, ("account alias", alias, None))
                n += 1
    return n


def in_use(gateway: Gateway, layout: Layout, addresses: Iterable[str]) -> set[str]:
    """The given addresses that an entry now holds, as its own address (`mail`: account,
    alias, shared mailbox) or as an account's alias (`mgtAliasAddress`), in any domain:
    the importer looks just before writing (a taken address would make slapd refuse a
    batch's transaction whole, directory/batch.py; a taken alias it would not refuse at
    all). Read as the application: the service has checked the actor's rights."""
    gateway = gateway.as_application()
    wanted = list(dict.fromkeys(a.lower() for a in addresses))
    found: set[str] = set()
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start:start + BATCH]
        terms = [(attr, a) for a in batch for attr in ("mail", "mgtAliasAddress")]
        for e in gateway.search_any(layout.domains, terms, ("mail", "mgtAliasAddress")):
            found.add(e.first("mail").lower())
            found.update(a.lower() for a in e.all("mgtAliasAddress"))
    return found & set(wanted)
