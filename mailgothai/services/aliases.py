"""Aliases: an address in a hosted domain that delivers to other addresses."""

from __future__ import annotations

from collections.abc import Iterator

from mailgothai.core.addresses import normalize_address, normalize_domain, parse_address_list, split_address
from mailgothai.core.models import Alias, Status
from mailgothai.core.reasons import Why
from mailgothai.errors import AlreadyExists, InvalidInput
from mailgothai.services.base import Service


class AliasService(Service):
    def add(self, address: str, members: str | tuple[str, ...]) -> Alias:
        address = normalize_address(address, "address")
        domain = split_address(address)[1]
        self.actor.require_domain(domain)
        self.b.domains.get(domain)
        targets = _members(members)
        if address in targets:
            raise InvalidInput("to", Why.ALIAS_TO_ITSELF())
        holder = self.b.aliases.holder_of(address)
        if holder:
            raise AlreadyExists("address", address, f"in use by an {holder}")
        alias = Alias(address=address, domain=domain, members=targets)
        self.b.aliases.create(alias)
        self.audit("alias.create", "alias", address, domain, after=alias)
        return alias

    def get(self, address: str) -> Alias:
        address = normalize_address(address, "address")
        self.actor.require_domain(split_address(address)[1])
        return self.b.aliases.get(address)

    def iter_domain(self, domain: str) -> Iterator[Alias]:
        domain = normalize_domain(domain)
        self.actor.require_domain(domain)
        self.b.domains.get(domain)
        return self.b.aliases.iter_domain(domain)

    def set_members(self, address: str, members: str | tuple[str, ...]) -> Alias:
        before = self.get(address)
        targets = _members(members)
        self.b.aliases.set_members(before.address, targets)
        after = Alias(before.address, before.domain, targets, before.status)
        self.audit("alias.update", "alias", before.address, before.domain, before=before, after=after)
        return after

    def set_status(self, address: str, status: Status) -> Alias:
        before = self.get(address)
        if before.status is status:
            return before
        self.b.aliases.set_status(before.address, status)
        after = Alias(before.address, before.domain, before.members, status)
        action = "alias.activate" if status is Status.ACTIVE else "alias.suspend"
        self.audit(action, "alias", before.address, before.domain, before=before, after=after)
        return after

    def delete(self, address: str) -> None:
        alias = self.get(address)
        self.b.aliases.delete(alias.address)
        self.audit("alias.delete", "alias", alias.address, alias.domain, before=alias)


def _members(value: str | tuple[str, ...]) -> tuple[str, ...]:
    text = value if isinstance(value, str) else ";".join(value)
    targets = parse_address_list(text, "to")
    if not targets:
        raise InvalidInput("to", Why.ALIAS_NO_TARGET())
    return targets
