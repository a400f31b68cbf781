"""Shared role mailboxes (mgtSharedMailbox under a domain's ou=shared) and their members'
memberships, which live on the members' own account entries (mgtSharedAccess, see
core/shared.py)."""

from __future__ import annotations

from collections.abc import Iterator

import ldap3

from mailgothai.core.models import Status
from mailgothai.core.shared import Member, SharedMailbox, parse_access, with_rights
from mailgothai.core.shared import Right as Right
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry, new_entry, unit_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.errors import AlreadyExists, DirectoryError, NotFound, ValueChanged

ATTRS = ("mail", "domainName", "description", "mgtQuota", "mgtStatus", "entryUUID")
MEMBER_ATTRS = ("mail", "mgtStatus", "mgtSharedAccess", "objectClass")
CLASS = "mgtSharedMailbox"
MEMBER_CLASS = "mgtSharedMember"
ACCESS = "mgtSharedAccess"
ATTEMPTS = 20


def shared_dn(layout: Layout, address: str) -> str:
    domain = address.rpartition("@")[2]
    return f.dn(f.rdn("mail", address), shared_container(layout, domain))


def shared_container(layout: Layout, domain: str) -> str:
    return f.dn("ou=shared", layout.domain(domain))


def ensure_shared_container(gateway: Gateway, layout: Layout, domain: str) -> None:
    """The domain's ou=shared, added the first time a shared mailbox needs it."""
    container = shared_container(layout, domain)
    if gateway.read(container, ("ou",)) is None:
        try:
            gateway.add(unit_entry(container))
        except AlreadyExists:
            pass  # made meanwhile


def to_shared(entry: Entry) -> SharedMailbox:
    return SharedMailbox(address=entry.first("mail").lower(), domain=entry.first("domainName").lower(),
                         name=entry.first("description"), quota=entry.integer("mgtQuota"),
                         status=Status(entry.first("mgtStatus", "active")), mailbox_id=entry.first("entryUUID").lower())


class SharedDirectory:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    def create(self, shared: SharedMailbox) -> SharedMailbox:
        """Add the entry (and the domain's ou=shared, the first time); returns it as
        stored, with its mailbox id."""
        ensure_shared_container(self._gw, self._layout, shared.domain)
        entry = new_entry(shared_dn(self._layout, shared.address), (CLASS,), {
            "mail": shared.address, "domainName": shared.domain, "mgtStatus": shared.status.value,
            "mgtQuota": shared.quota, "description": shared.name or None})
        try:
            self._gw.add(entry)
        except AlreadyExists:
            raise AlreadyExists("shared mailbox", shared.address) from None
        return self.get(shared.address)

    def find(self, address: str) -> SharedMailbox | None:
        entry = self._gw.read(shared_dn(self._layout, address), ATTRS)
        return to_shared(entry) if entry is not None else None

    def get(self, address: str) -> SharedMailbox:
        found = self.find(address)
        if found is None:
            raise NotFound("shared mailbox", address)
        return found

    def iter_domain(self, domain: str) -> Iterator[SharedMailbox]:
        container = shared_container(self._layout, domain)
        flt = f.all_of(f.eq("objectClass", CLASS), f.eq("domainName", domain))
        try:
            found = self._gw.search(container, flt, ATTRS, scope=ldap3.LEVEL)
        except NotFound:  # no ou=shared yet: none made
            return
        yield from sorted((to_shared(e) for e in found), key=lambda s: s.address)

    def delete(self, address: str) -> None:
        try:
            self._gw.delete(shared_dn(self._layout, address))
        except NotFound:
            raise NotFound("shared mailbox", address) from None

    def members(self, shared: SharedMailbox) -> list[Member]:
        """The live accounts of the shared mailbox's domain with a right in it."""
        flt = f.all_of(f.eq("objectClass", MEMBER_CLASS), f.contains(ACCESS, f"shared-{shared.mailbox_id}-"))
        out: list[Member] = []
        for entry in self._gw.search(self._layout.users(shared.domain), flt, MEMBER_ATTRS, scope=ldap3.LEVEL):
            rights = parse_access(entry.first(ACCESS)).get(shared.mailbox_id)
            if rights:
                out.append(Member(entry.first("mail").lower(), rights,
                                  active=entry.first("mgtStatus", "active") == Status.ACTIVE.value))
        return sorted(out, key=lambda m: m.email)

    def rights_of(self, email: str, shared: SharedMailbox) -> frozenset[Right]:
        entry = self._gw.read(self._layout.account(email), MEMBER_ATTRS)
        if entry is None:
            raise NotFound("account", email)
        return parse_access(entry.first(ACCESS)).get(shared.mailbox_id, frozenset())

    def set_rights(self, email: str, shared: SharedMailbox, rights: frozenset[Right]) -> None:
        """Give the account exactly `rights` in the shared mailbox (none: no membership),
        a compare-and-swap of its one value: concurrent changes of other memberships of
        the same account are kept."""
        dn = self._layout.account(email)
        for _ in range(ATTEMPTS):
            entry = self._gw.read(dn, MEMBER_ATTRS)
            if entry is None:
                raise NotFound("account", email)
            old = entry.first(ACCESS)
            new = with_rights(old, shared.mailbox_id, rights)
            if new == old:
                return
            changes: dict[str, list[tuple[str, list[str]]]] = {}
            if old and new:
                changes[ACCESS] = [(ldap3.MODIFY_DELETE, [old]), (ldap3.MODIFY_ADD, [new])]
            elif new:
                changes[ACCESS] = [(ldap3.MODIFY_ADD, [new])]
            else:
                changes[ACCESS] = [(ldap3.MODIFY_DELETE, [old])]
            if new and MEMBER_CLASS.lower() not in {c.lower() for c in entry.all("objectClass")}:
                changes["objectClass"] = [(ldap3.MODIFY_ADD, [MEMBER_CLASS])]
            try:
                self._gw.modify(dn, changes)
            except ValueChanged:
                continue
            except DirectoryError:
                # an ADD lost against a concurrent one (the value or the class is there now):
                # read again; anything else fails again and is raised below
                now = self._gw.read(dn, MEMBER_ATTRS)
                if now is None:
                    raise NotFound("account", email) from None
                if now.first(ACCESS) == old:
                    raise
                continue
            return
        raise ValueChanged(f"account {email}: its memberships kept changing; try again")
