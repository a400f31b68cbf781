"""Legal holds: an operator puts an account (live or deleted) or a whole domain on hold with
a reason, and held mail is never purged. Only operators place or lift a hold (slapd's rules
agree: a domain admin may read a hold on its accounts, never write one); every change is
audited with the reason before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, normalize_domain
from mailgothai.core.models import Account, Domain, RetainedAccount
from mailgothai.core.reasons import Why
from mailgothai.core.retention import check_hold_reason, looks_like_mailbox_id
from mailgothai.errors import InvalidInput
from mailgothai.services.base import Service
from mailgothai.services.lifecycle import find_retained


@dataclass(frozen=True)
class HoldState:
    kind: str  # "account", "deleted account" or "domain"
    name: str  # address or domain
    mailbox_id: str  # "" for a domain
    domain: str
    reason: str  # "" when released


class HoldService(Service):
    """The object is found first, as the actor may see it (outside its domains a domain
    admin gets NotFound, as everywhere); then only an operator may change its hold."""

    def hold_account(self, ref: str, reason: str) -> HoldState:
        target = self._account(ref)
        self.actor.require_superadmin()
        return self._set_account(target, check_hold_reason(reason))

    def release_account(self, ref: str) -> HoldState:
        target = self._account(ref)
        self.actor.require_superadmin()
        return self._set_account(target, "")

    def hold_domain(self, name: str, reason: str) -> HoldState:
        domain = self._domain(name)
        self.actor.require_superadmin()
        return self._set_domain(domain, check_hold_reason(reason))

    def release_domain(self, name: str) -> HoldState:
        domain = self._domain(name)
        self.actor.require_superadmin()
        return self._set_domain(domain, "")

    def _account(self, ref: str) -> Account | RetainedAccount:
        """A live account by its address or mailbox id, else a deleted one (see find_retained)."""
        if looks_like_mailbox_id(ref):
            live = self.b.accounts.find_by_id(ref.strip().lower())
        else:
            live = self.b.accounts.find(normalize_address(ref, "account"))
        if live is not None and self.actor.may_manage(live.domain):
            return live
        return find_retained(self.b, self.actor, ref)

    def _domain(self, name: str) -> Domain:
        name = normalize_domain(name)
        self.actor.require_domain(name)
        return self.b.domains.get(name)

    def _set_account(self, target: Account | RetainedAccount, reason: str) -> HoldState:
        if isinstance(target, RetainedAccount):
            if target.purging and reason:
                raise InvalidInput("account", Why.PURGE_BEGUN_HOLD(address=target.email))
            before = HoldState("deleted account", target.email, target.mailbox_id, target.domain, target.hold_reason)
            if before.reason != reason:
                self.b.retained.set_hold(target, reason)
        else:
            before = HoldState("account", target.email, target.mailbox_id, target.domain, target.hold_reason)
            if before.reason != reason:
                self.b.accounts.set_hold(target.email, reason)
        after = HoldState(before.kind, before.name, before.mailbox_id, before.domain, reason)
        if before != after:
            self.audit("account.hold" if reason else "account.release", "account", before.name, before.domain,
                       before=before, after=after)
        return after

    def _set_domain(self, domain: Domain, reason: str) -> HoldState:
        before = HoldState("domain", domain.name, "", domain.name, domain.hold_reason)
        after = HoldState("domain", domain.name, "", domain.name, reason)
        if before != after:
            self.b.domains.update(domain.name, hold_reason=reason)
            self.audit("domain.hold" if reason else "domain.release", "domain", domain.name, domain.name,
                       before=before, after=after)
        return after
