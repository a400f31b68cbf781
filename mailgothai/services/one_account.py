"""Services that act on one account at a time, for an `Actor` (an operator, or a domain
admin within its domains) or for the mail user themself in the web's self-service: the
one place that decides whose account such a service may reach."""

from __future__ import annotations

from mailgothai.core.addresses import normalize_address, split_address
from mailgothai.core.models import Account
from mailgothai.errors import MailStoreError, NotFound
from mailgothai.services.base import SelfServable
from mailgothai.services.ports import SieveScripts


class OneAccountService(SelfServable):
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
