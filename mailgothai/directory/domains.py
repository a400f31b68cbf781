"""Domain entries, and the counters (accounts, allocated quota) the limits are checked on."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import ldap3

from mailgothai.core.models import AliasDomain, Domain, DomainLimits, Status
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry, NewEntry, new_entry, unit_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.errors import AlreadyExists, NotFound, ValueChanged

ATTRS = ("domainName", "description", "mgtStatus", "mgtMaxAccounts", "mgtQuotaPool", "mgtDefaultQuota",
         "mgtMaxMessageSize", "mgtHourlySendLimit", "mgtRetentionDays", "mgtAccountCount", "mgtQuotaAllocated",
         "mgtHoldReason", "mgtCatchAll", "objectClass")
ALIAS_ATTRS = ("domainName", "mgtAliasDomainTarget")
CAS_ATTEMPTS = 50


def _limit_values(limits: DomainLimits) -> dict[str, object]:
    return {
        "mgtMaxAccounts": limits.max_accounts,
        "mgtQuotaPool": limits.quota_pool,
        "mgtDefaultQuota": limits.default_quota,
        "mgtMaxMessageSize": limits.max_message_size,
        "mgtHourlySendLimit": limits.hourly_send_limit,
        "mgtRetentionDays": limits.retention_days,
    }


OBJECT_CLASSES = ("mgtDomain",)
ALIAS_CLASSES = ("mgtAliasDomain",)
CONTAINERS = ("users", "aliases")


def domain_attributes(domain: Domain) -> dict[str, object]:
    """The entry of a domain (also used to write LDIF for offline loading)."""
    return {
        "domainName": domain.name, "description": domain.description, "mgtStatus": domain.status.value,
        **_limit_values(domain.limits), "mgtAccountCount": domain.account_count,
        "mgtQuotaAllocated": domain.quota_allocated,
    }


def domain_entry(dn: str, domain: Domain) -> NewEntry:
    """The entry of a domain at dn (also written as LDIF for offline loading)."""
    return new_entry(dn, OBJECT_CLASSES, domain_attributes(domain))


def to_domain(entry: Entry) -> Domain:
    defaults = DomainLimits()
    return Domain(
        name=entry.first("domainName"),
        description=entry.first("description"),
        status=Status(entry.first("mgtStatus", "active")),
        limits=DomainLimits(
            max_accounts=entry.integer("mgtMaxAccounts", defaults.max_accounts),
            quota_pool=entry.integer("mgtQuotaPool", defaults.quota_pool),
            default_quota=entry.integer("mgtDefaultQuota", defaults.default_quota),
            max_message_size=entry.integer("mgtMaxMessageSize", defaults.max_message_size),
            hourly_send_limit=entry.integer("mgtHourlySendLimit", defaults.hourly_send_limit),
            retention_days=entry.integer("mgtRetentionDays", defaults.retention_days),
        ),
        account_count=entry.integer("mgtAccountCount"),
        quota_allocated=entry.integer("mgtQuotaAllocated"),
        hold_reason=entry.first("mgtHoldReason"),
        catch_all=entry.first("mgtCatchAll").lower(),
    )


def _is_domain(entry: Entry) -> bool:
    """A hosted domain's entry (ou=domains also holds alias domains, issue 17)."""
    return "mgtdomain" in {c.lower() for c in entry.all("objectClass")}


def to_alias_domain(entry: Entry) -> AliasDomain:
    return AliasDomain(name=entry.first("domainName").lower(), target=entry.first("mgtAliasDomainTarget").lower())


class DomainDirectory:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    def create(self, domain: Domain) -> None:
        dn = self._layout.domain(domain.name)
        try:
            self._gw.add(domain_entry(dn, replace(domain, account_count=0, quota_allocated=0)))
        except AlreadyExists:
            raise AlreadyExists("domain", domain.name) from None
        for ou in CONTAINERS:
            self._gw.add(unit_entry(f"ou={ou},{dn}"))

    def find(self, name: str) -> Domain | None:
        entry = self._gw.read(self._layout.domain(name), ATTRS)
        return to_domain(entry) if entry is not None and _is_domain(entry) else None

    def get(self, name: str) -> Domain:
        domain = self.find(name)
        if domain is None:
            raise NotFound("domain", name)
        return domain

    def update(self, name: str, *, description: str | None = None, limits: DomainLimits | None = None,
               status: Status | None = None, hold_reason: str | None = None,
               catch_all: str | None = None) -> None:
        """Write the given fields; hold_reason "" lifts a hold, catch_all "" turns it off."""
        values: dict[str, object] = {}
        if description is not None:
            values["description"] = description
        if limits is not None:
            values.update(_limit_values(limits))
        if status is not None:
            values["mgtStatus"] = status.value
        if hold_reason is not None:
            values["mgtHoldReason"] = hold_reason or None
        if catch_all is not None:
            values["mgtCatchAll"] = catch_all or None
        try:
            self._gw.replace(self._layout.domain(name), values)
        except NotFound:
            raise NotFound("domain", name) from None

    def delete(self, name: str) -> None:
        dn = self._layout.domain(name)
        for ou in (*CONTAINERS, "shared"):  # ou=shared: made with a domain's first shared mailbox
            try:
                self._gw.delete(f"ou={ou},{dn}")
            except NotFound:
                pass
        try:
            self._gw.delete(dn)
        except NotFound:
            raise NotFound("domain", name) from None

    def iter_all(self, name_prefix: str = "") -> Iterator[Domain]:
        by_name = [f.prefix("domainName", name_prefix)] if name_prefix else []
        flt = f.all_of(f.eq("objectClass", "mgtDomain"), *by_name)
        for entry in self._gw.iter_paged(self._layout.domains, flt, ATTRS):
            yield to_domain(entry)

    def read_many(self, names: Sequence[str]) -> list[Domain]:
        """The entries of these domains (those that exist) in one search."""
        if not names:
            return []
        flt = f.all_of(f.eq("objectClass", "mgtDomain"), f.any_of(*(f.eq("domainName", n) for n in names)))
        return [to_domain(e) for e in self._gw.search(self._layout.domains, flt, ATTRS, scope=ldap3.LEVEL)]

    def adjust_usage(self, name: str, accounts: int, quota: int,
                     check: Callable[[Domain], None] | None = None) -> Domain:
        """Atomically add to the domain's counters, after `check` accepts the current values.

        A compare-and-swap on both counters in one modify: concurrent writers retry, so
        two imports into one domain can never together pass a limit.
        """
        for _ in range(CAS_ATTEMPTS):
            domain = self.get(name)
            if check is not None:
                check(domain)
            new_count = max(0, domain.account_count + accounts)
            new_quota = max(0, domain.quota_allocated + quota)
            try:
                self._gw.swap(self._layout.domain(name), {
                    "mgtAccountCount": (str(domain.account_count), str(new_count)),
                    "mgtQuotaAllocated": (str(domain.quota_allocated), str(new_quota)),
                })
            except ValueChanged:
                continue
            return domain
        raise ValueChanged(f"domain {name}: counters kept changing; try again")

    def holder_anywhere(self, address: str) -> str | None:
        """What holds `address` in the whole directory ('account', 'account alias', 'alias',
        'shared mailbox'), or None: as `mail` or `mgtAliasAddress`, in any domain, read as the
        application (a domain admin's own reads do not see other domains' entries; the
        service has checked the actor's right to the address, and says only "in use")."""
        from mailgothai.directory.holders import holder_kind  # holders reads accounts, which reads domains

        return holder_kind(self._gw, self._layout, address)

    def recount(self, name: str) -> Domain:
        """Recompute the counters from the accounts themselves (repair after a crash)."""
        count = total = 0
        flt = f.all_of(f.eq("objectClass", "mgtAccount"), f.eq("domainName", name))
        for entry in self._gw.iter_paged(self._layout.users(name), flt, ["mgtQuota"]):
            count += 1
            total += entry.integer("mgtQuota")
        # shared role mailboxes (issue 17) hold quota of the pool, and are not accounts
        shared = f.all_of(f.eq("objectClass", "mgtSharedMailbox"), f.eq("domainName", name))
        try:
            total += sum(e.integer("mgtQuota") for e in self._gw.search(f"ou=shared,{self._layout.domain(name)}",
                                                                          shared, ["mgtQuota"]))
        except NotFound:
            pass  # no shared mailbox was ever made in the domain
        self._gw.replace(self._layout.domain(name), {"mgtAccountCount": count, "mgtQuotaAllocated": total})
        return self.get(name)

    # ---- alias domains (issue 17): entries of their own class beside the domains ------------
    def create_alias(self, alias: AliasDomain) -> None:
        """AlreadyExists when the name is hosted already, as a domain or an alias domain."""
        entry = new_entry(self._layout.domain(alias.name), ALIAS_CLASSES,
                          {"domainName": alias.name, "mgtAliasDomainTarget": alias.target})
        try:
            self._gw.add(entry)
        except AlreadyExists:
            raise AlreadyExists("domain", alias.name) from None

    def find_alias(self, name: str) -> AliasDomain | None:
        # as the application: the entry names the alias, not the domain its admins administer;
        # the service shows it only to those who may see its target
        entry = self._gw.as_application().read(self._layout.domain(name), ("objectClass", *ALIAS_ATTRS))
        if entry is None or "mgtaliasdomain" not in {c.lower() for c in entry.all("objectClass")}:
            return None
        return to_alias_domain(entry)

    def aliases_of(self, target: str | None = None) -> list[AliasDomain]:
        """The alias domains of `target` (of every domain when None), by name."""
        parts = [f.eq("objectClass", "mgtAliasDomain")]
        if target is not None:
            parts.append(f.eq("mgtAliasDomainTarget", target))
        # as the application: a domain admin's service has checked it may see `target`, and the
        # alias entries carry the alias's own name, not the target's (slapd's rules go by an entry's domainName)
        gateway = self._gw.as_application()
        found = [to_alias_domain(e) for e in gateway.search(self._layout.domains, f.all_of(*parts), ALIAS_ATTRS,
                                                               scope=ldap3.LEVEL)]
        return sorted(found, key=lambda a: a.name)

    def delete_alias(self, name: str) -> None:
        if self.find_alias(name) is None:
            raise NotFound("alias domain", name)
        self._gw.delete(self._layout.domain(name))
