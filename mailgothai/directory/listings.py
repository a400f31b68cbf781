"""The sorted, windowed searches behind the admin's listings (services/listing.py): a
domain's accounts, its aliases, and the domains, each sorted and cut by slapd through a
kept sort context (directory/vlv.py). Who may see what is the service's to decide first.

Inside one domain the search runs as the application itself (`as_application`), so every
admin of the domain shares one sort context and slapd does not evaluate a domain admin's
access rules on each entry while sorting; call those only for a domain the actor has been
let into (by the service, and by slapd when the domain entry was read as the admin). The
list of domains keeps the caller's identity: it crosses domains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from mailgothai.core.models import Account, Alias, Domain
from mailgothai.directory import escaping as f
from mailgothai.directory.accounts import ONE_ATTRS as ACCOUNT_ATTRS  # with the mailbox id: a page's last logins
from mailgothai.directory.accounts import name_filter, to_account
from mailgothai.directory.aliases import ATTRS as ALIAS_ATTRS
from mailgothai.directory.aliases import to_alias
from mailgothai.directory.domains import ATTRS as DOMAIN_ATTRS
from mailgothai.directory.domains import to_domain
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.vlv import SortedLister, SortKey

T = TypeVar("T")
BY_MAIL = SortKey("mail", "caseIgnoreOrderingMatch")
BY_DOMAIN_NAME = SortKey("domainName", "caseIgnoreOrderingMatch")
ACCOUNT_SORTS = {
    "address": (BY_MAIL,),
    "name": (SortKey("cn", "caseIgnoreOrderingMatch"), BY_MAIL),
    "quota": (SortKey("mgtQuota", "integerOrderingMatch"), BY_MAIL),
}


@dataclass(frozen=True)
class Found(Generic[T]):
    items: tuple[T, ...]
    offset: int  # 0-based position of the first item in the whole sorted list
    total: int  # items in the whole list


class Listings:
    def __init__(self, lister: SortedLister, gateway: Gateway, layout: Layout) -> None:
        self._lister = lister
        self._gateway = gateway
        self._layout = layout

    def accounts(self, domain: str, sort: str, descending: bool, search: str, offset: int, size: int,
                 stamp: object, keep: bool = False, max_age: float | None = None) -> Found[Account]:
        """A window of a domain's accounts sorted by one of ACCOUNT_SORTS, whose address or
        name starts with `search` (if given). `stamp`: what the kept sort stays valid for;
        `keep`: keep this sort warm; `max_age`: sort again if the kept one is older."""
        flt = f.eq("domainName", domain)
        if search:
            flt = f.all_of(flt, name_filter(search))
        keys = tuple(SortKey(k.attribute, k.ordering_rule, descending) for k in ACCOUNT_SORTS[sort])
        window = self._lister.window(self._gateway.as_application(), self._layout.users(domain), flt, keys,
                                     offset, size, ACCOUNT_ATTRS, stamp, keep, max_age)
        return Found(tuple(to_account(e) for e in window.entries), window.offset, window.total)

    def aliases(self, domain: str, search: str, offset: int, size: int, stamp: object) -> Found[Alias]:
        """A window of a domain's aliases by address, those starting with `search` (if given)."""
        flt = f.all_of(f.eq("objectClass", "mgtAlias"), f.eq("domainName", domain))
        if search:
            flt = f.all_of(flt, f.prefix("mail", search))
        window = self._lister.window(self._gateway.as_application(), self._layout.aliases(domain), flt,
                                     (BY_MAIL,), offset, size, ALIAS_ATTRS, stamp)
        return Found(tuple(to_alias(e) for e in window.entries), window.offset, window.total)

    def domains(self, search: str, only: Sequence[str] | None, offset: int, size: int,
                stamp: object) -> Found[Domain]:
        """A window of the domains by name whose name starts with, or description holds,
        `search` (if given); of those named in `only`, unless it is None."""
        parts = [f.eq("objectClass", "mgtDomain")]
        if search:
            parts.append(f.any_of(f.prefix("domainName", search), f.contains("description", search)))
        if only is not None:
            if not only:
                return Found((), 0, 0)
            parts.append(f.any_of(*(f.eq("domainName", d) for d in only)))
        window = self._lister.window(self._gateway, self._layout.domains, f.all_of(*parts), (BY_DOMAIN_NAME,),
                                     offset, size, DOMAIN_ATTRS, stamp)
        return Found(tuple(to_domain(e) for e in window.entries), window.offset, window.total)
