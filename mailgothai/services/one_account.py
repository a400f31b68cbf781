"""Services that act on one account at a time, for an `Actor` (an operator, or a domain
admin within its domains) or for the mail user themself in the web's self-service: the
one place that decides whose account such a service may reach."""

from __future__ import annotations

from typing import Self

from mailgothai.core.addresses import normalize_address, split_address
from mailgothai.core.models import Account, Role
from mailgothai.errors import MailStoreError, NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.ports import SieveScripts


class OneAccountService:
    def __init__(self, backends: Backends, actor: Actor, *, self_email: str | None = None) -> None:
        self.b = backends
        self.actor = actor
        self._self_email = self_email.lower() if self_email else None

    @classmethod
    def of_user(cls, backends: Backends, email: str) -> Self:
        """A mail user acting on their own account only (the web's self-service): an actor
        administering no domain, so nothing but `email` itself is within reach."""
        return cls(backends, Actor(login=email, role=Role.DOMAIN_ADMIN, origin="web-self"), self_email=email)

    def _account(self, email: str) -> Account:
        """The account, if the actor may reach it; not found otherwise (as for an address
        nobody has)."""
        email = normalize_address(email)
        if self._self_email is not None:
            if email.lower() != self._self_email:
                raise NotFound("account", email)
        else:
            self.actor.require_domain(split_address(email)[1])
        return self.b.accounts.get(email)


def configured(scripts: SieveScripts | None) -> SieveScripts:
    """The Sieve scripts adapter, or why there is none."""
    if scripts is None:
        raise MailStoreError("no Sieve scripts here (Dovecot's Pigeonhole is not configured)")
    return scripts
