"""A domain's catch-all and its alias domains (issue 17): where mail for addresses the
directory does not hold goes.

Catch-all: one address, off by default, that receives the mail for the domain's unknown
addresses. It must be an existing account or alias (or an account's alias address) of a
domain hosted here that the actor administers — the domain itself or another of its
domains; for an operator, any hosted domain. Never an outside address: a catch-all takes
whatever a stranger sends to any made-up address, and must not turn the service into a
spam amplifier (the relay, for the same reason, follows the target's forwards and alias
members only to mailboxes here when it delivers catch-all mail). The domain's admins set
it, as operators do.

Alias domains: another name of a hosted domain, whose every address is valid at the new
name too, delivered to the same mailbox. Only operators add and remove them: a name is
hosted (and mail to it kept here, even from our own users) by what they decide, the way
they add domains; a domain admin could otherwise claim another agency's name. The
domain's admins see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.models import AliasDomain, Domain
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.base import Service

if TYPE_CHECKING:
    from mailgothai.services.backends import Backends


def login_names(backends: Backends, addresses: Iterable[str]) -> list[str]:
    """The names Dovecot may have cached a login of these accounts under: each address and
    its local part at every alias domain of its domain (Dovecot's auth cache keeps a login
    under the name typed, before the alias-domain passdb renames it), for a flush."""
    out: list[str] = []
    alias_domains: dict[str, list[str]] = {}
    for address in addresses:
        out.append(address)
        local, _, domain = address.rpartition("@")
        if domain not in alias_domains:
            alias_domains[domain] = [a.name for a in backends.domains.aliases_of(domain)]
        out.extend(f"{local}@{alias}" for alias in alias_domains[domain])
    return out


class DomainRoutingService(Service):
    # ---- catch-all ----------------------------------------------------------------------
    def set_catch_all(self, domain: str, address: str | None) -> Domain:
        """Turn the domain's catch-all on (to `address`) or off (None or "")."""
        name = normalize_domain(domain)
        self.actor.require_domain(name)
        before = self.b.domains.get(name)
        target = self._catch_all_target(address) if address and address.strip() else ""
        if target == before.catch_all:
            return before  # nothing to change: no write, no audit record
        self.b.domains.update(before.name, catch_all=target)
        after = self.b.domains.get(before.name)
        action = "domain.catch_all.set" if target else "domain.catch_all.off"
        self.audit(action, "domain", before.name, before.name, before=before, after=after)
        self.b.tell_relay()
        return after

    def check_catch_all(self, domain: str, address: str) -> str:
        """The catch-all `address` would be stored as, or InvalidInput; nothing is written."""
        self.actor.require_domain(normalize_domain(domain))
        return self._catch_all_target(address)

    def _catch_all_target(self, address: str) -> str:
        target = normalize_address(address, "catch_all")
        target_domain = split_address(target)[1]
        alias = self.b.domains.find_alias(target_domain)
        if alias is not None and self.actor.may_manage(alias.target):
            raise InvalidInput("catch_all", Why.AT_ALIAS_DOMAIN(value=repr(target), alias=alias.name,
                                                                domain=alias.target))
        if not self.actor.may_manage(target_domain) or self.b.domains.find(target_domain) is None:
            raise InvalidInput("catch_all", Why.CATCH_ALL_OUTSIDE(value=repr(target)))
        if self.b.aliases.holder_of(target) is None:
            raise InvalidInput("catch_all", Why.CATCH_ALL_UNKNOWN(value=repr(target)))
        return target

    # ---- alias domains ------------------------------------------------------------------
    def add_alias_domain(self, name: str, to: str) -> AliasDomain:
        self.actor.require_superadmin()
        new = normalize_domain(name, "alias_domain")
        existing = normalize_domain(to, "to")
        if new == existing:
            raise InvalidInput("alias_domain", Why.ALIAS_DOMAIN_ITSELF())
        if self.b.domains.find(new) is not None:
            raise InvalidInput("alias_domain", Why.ALIAS_DOMAIN_HOSTED(domain=new))
        taken = self.b.domains.find_alias(new)
        if taken is not None:
            raise InvalidInput("alias_domain", Why.ALIAS_DOMAIN_TAKEN(domain=new, target=taken.target))
        chained = self.b.domains.find_alias(existing)
        if chained is not None:
            raise InvalidInput("to", Why.ALIAS_DOMAIN_CHAIN(domain=existing, target=chained.target))
        if self.b.domains.find(existing) is None:
            raise InvalidInput("to", Why.ALIAS_DOMAIN_NO_TARGET(domain=existing))
        alias = AliasDomain(name=new, target=existing)
        self.b.domains.create_alias(alias)  # AlreadyExists if another operator just took the name
        self.audit("alias_domain.create", "alias_domain", new, existing, after=alias)
        self.b.doveadm.flush_all()  # a login as local@NEW cached as unknown must now find its account
        self.b.tell_relay()
        return alias

    def alias_domains(self, domain: str | None = None) -> list[AliasDomain]:
        """The alias domains of `domain`, or of every domain the actor administers."""
        if domain is not None:
            existing = normalize_domain(domain, "domain")
            self.actor.require_domain(existing)
            self.b.domains.get(existing)
            return self.b.domains.aliases_of(existing)
        return [a for a in self.b.domains.aliases_of() if self.actor.may_manage(a.target)]

    def get_alias_domain(self, name: str) -> AliasDomain:
        new = normalize_domain(name, "alias_domain")
        alias = self.b.domains.find_alias(new)
        if alias is None or not self.actor.may_manage(alias.target):
            raise NotFound("alias domain", new)
        return alias

    def remove_alias_domain(self, name: str) -> AliasDomain:
        alias = self.get_alias_domain(name)  # first: outside its domains a domain admin gets NotFound
        self.actor.require_superadmin()
        self.b.domains.delete_alias(alias.name)
        self.audit("alias_domain.delete", "alias_domain", alias.name, alias.target, before=alias)
        self.b.doveadm.flush_all()
        self.b.tell_relay()
        return alias
