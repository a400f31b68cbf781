"""Alias entries (mgtAlias under ou=aliases), and which entry holds an address."""

from __future__ import annotations

from collections.abc import Iterator

from mailgothai.core.models import Alias, Status
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry, NewEntry, new_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.errors import AlreadyExists, NotFound

ATTRS = ("mail", "domainName", "mgtMember", "mgtStatus")


def to_alias(entry: Entry) -> Alias:
    return Alias(
        address=entry.first("mail"),
        domain=entry.first("domainName"),
        members=entry.all("mgtMember"),
        status=Status(entry.first("mgtStatus", "active")),
    )


def alias_entry(dn: str, alias: Alias) -> NewEntry:
    """The entry of a new alias at dn."""
    return new_entry(dn, ("mgtAlias",), {"mail": alias.address, "domainName": alias.domain,
                                         "mgtMember": list(alias.members), "mgtStatus": alias.status.value})


class AliasDirectory:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    def create(self, alias: Alias) -> None:
        try:
            self._gw.add(alias_entry(self._layout.alias(alias.address), alias))
        except AlreadyExists:
            raise AlreadyExists("alias", alias.address) from None

    def find(self, address: str) -> Alias | None:
        entry = self._gw.read(self._layout.alias(address), ATTRS)
        return to_alias(entry) if entry else None

    def get(self, address: str) -> Alias:
        alias = self.find(address)
        if alias is None:
            raise NotFound("alias", address)
        return alias

    def set_members(self, address: str, members: tuple[str, ...]) -> None:
        self._replace(address, {"mgtMember": list(members)})

    def set_status(self, address: str, status: Status) -> None:
        self._replace(address, {"mgtStatus": status.value})

    def _replace(self, address: str, values: dict[str, object]) -> None:
        try:
            self._gw.replace(self._layout.alias(address), values)
        except NotFound:
            raise NotFound("alias", address) from None

    def delete(self, address: str) -> None:
        try:
            self._gw.delete(self._layout.alias(address))
        except NotFound:
            raise NotFound("alias", address) from None

    def iter_domain(self, domain: str) -> Iterator[Alias]:
        flt = f.all_of(f.eq("objectClass", "mgtAlias"), f.eq("domainName", domain))
        for entry in self._gw.iter_paged(self._layout.aliases(domain), flt, ATTRS):
            yield to_alias(entry)

    def with_member(self, address: str) -> list[Alias]:
        """Alias entries that deliver to `address` (mgtMember is equality-indexed)."""
        flt = f.all_of(f.eq("objectClass", "mgtAlias"), f.eq("mgtMember", address))
        return [to_alias(e) for e in self._gw.search(self._layout.domains, flt, ATTRS)]

    def holder_of(self, address: str) -> str | None:
        """What already uses `address` ('account', 'account alias', 'alias', 'shared mailbox'),
        or None, in the whole directory: read as the application (a domain admin's own reads,
        under slapd's ACLs, would not see another domain's account holding it as an alias;
        the services have checked the actor's rights for the address)."""
        flt = f.any_of(f.eq("mail", address), f.eq("mgtAliasAddress", address))
        found = self._gw.as_application().search(self._layout.domains, flt, ["objectClass", "mail"], limit=1)
        for entry in found:
            classes = {c.lower() for c in entry.all("objectClass")}
            if "mgtalias" in classes:
                return "alias"
            if "mgtsharedmailbox" in classes:
                return "shared mailbox"
            return "account" if entry.first("mail").lower() == address.lower() else "account alias"
        return None
