"""Legal holds: an operator puts an account (live or deleted) or a whole domain on hold with
a reason, and held mail is never purged. Only operators place or lift a hold (slapd's rules
agree: a domain admin may read a hold on its accounts, never write one); every change is
audited with the reason before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, normalize_domain
from mailgothai.core.models import Domain
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
    def hold_account(self, ref: str, reason: str) -> HoldState:
        self.actor.require_superadmin()
        return self._set_account(ref, check_hold_reason(reason))

    def release_account(self, ref: str) -> HoldState:
        self.actor.require_superadmin()
        return self._set_account(ref, "")

    def hold_domain(self, name: str, reason: str) -> HoldState:
        self.actor.require_superadmin()
        return self._set_domain(name, check_hold_reason(reason))

    def release_domain(self, name: str) -> HoldState:
        self.actor.require_superadmin()
        return self._set_domain(name, "")

    def _set_account(self, ref: str, reason: str) -> HoldState:
        """A live account by its address or mailbox id, else a deleted one (see find_retained)."""
        live = None
        if looks_like_mailbox_id(ref):
            live = self.b.accounts.find_by_id(ref.strip().lower())
        else:
            live = self.b.accounts.find(normalize_address(ref, "account"))
        if live is not None:
            before = HoldState("account", live.email, live.mailbox_id, live.domain, live.hold_reason)
            if before.reason != reason:
                self.b.accounts.set_hold(live.email, reason)
        else:
            retained = find_retained(self.b, self.actor, ref)
            if retained.purging and reason:
                raise InvalidInput("account", f"the purge of {retained.email} has begun; it cannot be held")
            before = HoldState("deleted account", retained.email, retained.mailbox_id, retained.domain,
                               retained.hold_reason)
            if before.reason != reason:
                self.b.retained.set_hold(retained, reason)
        after = HoldState(before.kind, before.name, before.mailbox_id, before.domain, reason)
        if before != after:
            self.audit("account.hold" if reason else "account.release", "account", before.name, before.domain,
                       before=before, after=after)
        return after

    def _set_domain(self, name: str, reason: str) -> HoldState:
        domain: Domain = self.b.domains.get(normalize_domain(name))
        before = HoldState("domain", domain.name, "", domain.name, domain.hold_reason)
        after = HoldState("domain", domain.name, "", domain.name, reason)
        if before != after:
            self.b.domains.update(domain.name, hold_reason=reason)
            self.audit("domain.hold" if reason else "domain.release", "domain", domain.name, domain.name,
                       before=before, after=after)
        return after
