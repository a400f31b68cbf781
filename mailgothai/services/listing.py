"""Pages of large listings (a domain's accounts and aliases, the domains) sorted and
windowed by slapd, never by loading a whole domain: the searches are directory/listings.py's,
the kept sort contexts directory/vlv.py's; the rights, the pages and the stamps are here.

A kept sort context is re-used while its stamp holds: the domain's counters and the
id of the newest audit record of the domain (every change through the services,
from any process, writes one), so an added, renamed or deleted account shows at once.

Inside one domain, the sorted search runs as the application itself, after both the
service (`actor.require_domain`) and slapd (the domain entry is read as the admin, with
the proxied authorization control) have let the actor in. So every admin of a domain
shares one sort context, and slapd sorts without evaluating a domain admin's access
rules on each of the domain's entries (measured: 0.7 s instead of 0.2-0.4 s for the
40,000 accounts of the largest domain, and warm windows twice as slow). The list of
domains keeps the admin's own identity: it crosses domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from mailgothai.core.models import Account, Alias, Domain, Role
from mailgothai.core.reasons import Why
from mailgothai.core.text import check_text
from mailgothai.directory.listings import ACCOUNT_SORTS, BY_MAIL, Listings
from mailgothai.directory.vlv import SortedLister
from mailgothai.errors import InvalidInput
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service

T = TypeVar("T")
MAX_PAGE_SIZE = 200
LAST_LOGIN = "last_login"  # a sort of the accounts kept in SQL, not in the directory (issue 17)
MAX_OFFSET = 2**31 - 1 - MAX_PAGE_SIZE  # a VLV offset is an LDAP INTEGER (at most 2^31 - 1)
__all__ = ["ACCOUNT_SORTS", "BY_MAIL", "LAST_LOGIN", "MAX_OFFSET", "MAX_PAGE_SIZE", "ListingService", "Page",
           "page_args", "stamp_of"]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    offset: int
    size: int
    total: int
    sort: str = "address"
    descending: bool = False
    search: str = ""

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total

    @property
    def page_number(self) -> int:
        return self.offset // self.size + 1

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.size))


def page_args(offset: int | str | None, size: int | str | None, default_size: int = 50) -> tuple[int, int]:
    """Offset and size from user input, validated."""
    def number(value: int | str | None, field: str, default: int) -> int:
        if value in (None, ""):
            return default
        try:
            return int(str(value))
        except ValueError:
            raise InvalidInput(field, Why.NOT_WHOLE_NUMBER(value=repr(value))) from None

    start, count = number(offset, "offset", 0), number(size, "limit", default_size)
    if start < 0:
        raise InvalidInput("offset", Why.NEGATIVE())
    if start > MAX_OFFSET:
        raise InvalidInput("offset", Why.OUT_OF_RANGE(low=0, high=MAX_OFFSET))
    if not 1 <= count <= MAX_PAGE_SIZE:
        raise InvalidInput("limit", Why.OUT_OF_RANGE(low=1, high=MAX_PAGE_SIZE))
    return start, count


def stamp_of(domain: Domain, newest_change: int) -> tuple[int, int, int]:
    """What a sorted listing of a domain's accounts stays valid for: the domain's counters
    and the id of its newest audit record."""
    return domain.account_count, domain.quota_allocated, newest_change


def account_stamp(backends: Backends, domain: Domain) -> tuple[int, int, int]:
    return stamp_of(domain, backends.audit.newest_id(domain.name))


def _search_text(text: str | None) -> str:
    return check_text((text or "").strip(), "search", 320)


class ListingService(Service):
    def __init__(self, backends: Backends, actor: Actor, lister: SortedLister) -> None:
        super().__init__(backends, actor)
        self.lister = lister
        self.listings = Listings(lister, backends.gateway, backends.layout)

    def _domain(self, name: str) -> Domain:
        self.actor.require_domain(name)
        return self.b.domains.get(name)

    def accounts(self, domain: str, *, sort: str = "address", descending: bool = False, search: str | None = "",
                 offset: int = 0, size: int = 50) -> tuple[Domain, Page[Account]]:
        if sort not in ACCOUNT_SORTS and sort != LAST_LOGIN:
            raise InvalidInput("sort", Why.NOT_A_CHOICE(choices=", ".join((*ACCOUNT_SORTS, LAST_LOGIN)),
                                                       value=repr(sort)))
        text = _search_text(search)
        if sort == LAST_LOGIN:  # from SQL, not slapd's sort (services/last_login.py): the address's start only
            from mailgothai.services.last_login import LastLoginService

            dom, found = LastLoginService(self.b, self.actor).page(domain, descending=descending, search=text,
                                                                   offset=offset, size=size)
            return dom, Page(found.items, found.offset, size, found.total, sort, descending, text)
        dom = self._domain(domain)
        return dom, self._accounts(dom, sort, descending, text, offset, size)

    def warm(self, domain: Domain, renew_after: float | None = None) -> None:
        """Sort the default view of a domain's accounts (by address) unless its kept sort
        is current and younger than `renew_after` seconds; keep it (services/listing_warmer.py)."""
        self.actor.require_domain(domain.name)
        self._accounts(domain, "address", False, "", 0, 1, keep=True, max_age=renew_after)

    def _accounts(self, dom: Domain, sort: str, descending: bool, text: str, offset: int, size: int,
                  keep: bool = False, max_age: float | None = None) -> Page[Account]:
        found = self.listings.accounts(dom.name, sort, descending, text, offset, size, account_stamp(self.b, dom),
                                       keep, max_age)
        return Page(found.items, found.offset, size, found.total, sort, descending, text)

    def aliases(self, domain: str, *, search: str | None = "", offset: int = 0,
                size: int = 50) -> tuple[Domain, Page[Alias]]:
        text = _search_text(search)
        dom = self._domain(domain)
        found = self.listings.aliases(dom.name, text, offset, size, self.b.audit.newest_id(dom.name))
        return dom, Page(found.items, found.offset, size, found.total, "address", False, text)

    def domains(self, *, search: str | None = "", offset: int = 0, size: int = 50) -> Page[Domain]:
        """The domains the actor may see, by name (slapd's rules hide the others from a
        domain admin, and the filter names only its own)."""
        text = _search_text(search).lower()
        only = None if self.actor.role is Role.SUPERADMIN else sorted(self.actor.domains)
        if only == []:
            return Page((), 0, size, 0, "name", False, text)
        found = self.listings.domains(text, only, offset, size, self.b.audit.newest_id())
        return Page(found.items, found.offset, size, found.total, "name", False, text)
