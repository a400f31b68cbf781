"""Domains: created and limited by operators, read by their domain admins."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.limits import MAX_COUNTS, check_domain_limits, check_new_limits_against_usage
from mailgothai.core.models import Domain, DomainLimits, Status
from mailgothai.core.quota import parse_size
from mailgothai.core.reasons import Why
from mailgothai.core.retention import parse_retention_days
from mailgothai.core.text import check_text
from mailgothai.errors import InvalidInput
from mailgothai.services.base import Service
from mailgothai.services.lifecycle import LifecycleService

MAX_DESCRIPTION = 1024


def _count(value: int | str, field: str) -> int:
    """A count as typed; its maximum is check_domain_limits' (core/limits.py MAX_COUNTS)."""
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text.lstrip("0")) > 18:  # past any maximum, and int()'s limit
        raise InvalidInput(field, Why.ABOVE_MAXIMUM(max=MAX_COUNTS[field]))
    try:
        number = int(text)
    except ValueError:
        shown = value if len(text) <= 64 else text[:64] + "..."
        raise InvalidInput(field, Why.NOT_WHOLE_NUMBER(value=repr(shown))) from None
    if number < 0:
        raise InvalidInput(field, Why.NEGATIVE())
    return number


def build_limits(base: DomainLimits, *, max_accounts: int | str | None = None,
                 quota_pool: int | str | None = None, default_quota: int | str | None = None,
                 max_message_size: int | str | None = None,
                 hourly_send_limit: int | str | None = None,
                 retention_days: int | str | None = None) -> DomainLimits:
    """New limits from user input; None keeps the current value."""
    changes: dict[str, int] = {}
    if max_accounts is not None:
        changes["max_accounts"] = _count(max_accounts, "max_accounts")
    if quota_pool is not None:
        changes["quota_pool"] = parse_size(quota_pool, "quota_pool")
    if default_quota is not None:
        changes["default_quota"] = parse_size(default_quota, "default_quota")
    if max_message_size is not None:
        changes["max_message_size"] = parse_size(max_message_size, "max_message_size")
    if hourly_send_limit is not None:
        changes["hourly_send_limit"] = _count(hourly_send_limit, "hourly_send_limit")
    if retention_days is not None:
        changes["retention_days"] = parse_retention_days(retention_days)
    limits = dataclasses.replace(base, **changes)
    check_domain_limits(limits)
    return limits


class DomainService(Service):
    def add(self, name: str, *, description: str = "", **limits: int | str | None) -> Domain:
        self.actor.require_superadmin()
        domain = Domain(
            name=normalize_domain(name),
            description=check_text(description, "description", MAX_DESCRIPTION),
            limits=build_limits(DomainLimits(), **limits),
        )
        alias = self.b.domains.find_alias(domain.name)
        if alias is not None:
            raise InvalidInput("domain", Why.ALIAS_DOMAIN_TAKEN(domain=domain.name, target=alias.target))
        self.b.domains.create(domain)
        self.audit("domain.create", "domain", domain.name, domain.name, after=domain)
        # A new name is nobody's to administer until an operator grants it. Only a deletion
        # by a version before this rule (or one killed before it took the name off its
        # admins) can have left it on an admin: an admin is only ever given existing domains.
        self._drop_admins_of(domain.name)
        return domain

    def get(self, name: str) -> Domain:
        name = normalize_domain(name)
        self.actor.require_domain(name)
        return self.b.domains.get(name)

    def list(self, prefix: str = "") -> Iterator[Domain]:
        for domain in self.b.domains.iter_all(prefix.strip().lower()):
            if self.actor.may_manage(domain.name):
                yield domain

    def set(self, name: str, *, description: str | None = None, **limits: int | str | None) -> Domain:
        before = self.get(name)  # first: outside its domains a domain admin gets NotFound
        self.actor.require_superadmin()
        new_limits = build_limits(before.limits, **limits)
        check_new_limits_against_usage(before, new_limits)
        if description is not None:
            check_text(description, "description", MAX_DESCRIPTION)
        if new_limits == before.limits and description in (None, before.description):
            return before  # nothing to change: no write, no audit record
        self.b.domains.update(before.name, description=description, limits=new_limits)
        after = self.b.domains.get(before.name)
        self.audit("domain.update", "domain", before.name, before.name, before=before, after=after)
        return after

    def set_status(self, name: str, status: Status) -> Domain:
        before = self.get(name)
        self.actor.require_superadmin()
        self.b.domains.update(before.name, status=status)
        after = dataclasses.replace(before, status=status)
        action = "domain.activate" if status is Status.ACTIVE else "domain.suspend"
        self.audit(action, "domain", before.name, before.name, before=before, after=after)
        # Logins of everyone in the domain must see the change; Dovecot's cache is
        # flushed whole (a per-domain flush would need every user's name).
        self.b.doveadm.flush_all()
        if status is not Status.ACTIVE:  # and its users' open IMAP, ManageSieve and SMTP sessions end
            self.b.end_sessions([f"*@{before.name}"])
        return after

    def recount(self, name: str) -> Domain:
        """Recompute the domain's account count and allocated quota from its accounts
        (repairs counters left high by a crash between reserving room and writing)."""
        self.actor.require_superadmin()
        before = self.get(name)
        after = self.b.domains.recount(before.name)
        if (after.account_count, after.quota_allocated) != (before.account_count, before.quota_allocated):
            self.audit("domain.recount", "domain", before.name, before.name, before=before, after=after)
        return after

    def delete(self, name: str, *, force: bool = False) -> None:
        """Delete a domain. Refused while it holds accounts or aliases, unless force: then
        each account is deleted into retention (kept for the domain's period, restorable
        once an operator adds the domain again) and each alias is removed. Refused while
        the domain is on legal hold."""
        domain = self.get(name)
        self.actor.require_superadmin()
        if domain.hold_reason:
            raise InvalidInput("domain", Why.DOMAIN_ON_HOLD(domain=domain.name, hold=domain.hold_reason))
        has_aliases = next(self.b.aliases.iter_domain(domain.name), None) is not None
        alias_domains = self.b.domains.aliases_of(domain.name)
        if not force and (domain.account_count > 0 or has_aliases or alias_domains):
            raise InvalidInput("domain", Why.DOMAIN_NOT_EMPTY(domain=domain.name))
        shared = list(self.b.shared.iter_domain(domain.name)) if self.b.shared is not None else []
        if shared:  # a shared mailbox's mail is the agency's record: never removed along with its domain
            raise InvalidInput("domain", Why.DOMAIN_HAS_SHARED(domain=domain.name, count=len(shared)))
        LifecycleService(self.b, self.actor).retire_all(domain)
        for alias in list(self.b.aliases.iter_domain(domain.name)):
            self.b.aliases.delete(alias.address)
            self.audit("alias.delete", "alias", alias.address, domain.name, before=alias)
        for alias_domain in alias_domains:
            self.b.domains.delete_alias(alias_domain.name)
            self.audit("alias_domain.delete", "alias_domain", alias_domain.name, domain.name, before=alias_domain)
        # Its admins lose it (before the entry goes: killed in between, the domain stays with
        # fewer admins, never a free name with admins): added again, perhaps for another
        # agency, the name gives nobody rights until an operator grants them.
        self._drop_admins_of(domain.name)
        self.b.domains.delete(domain.name)
        if self.b.spam is not None:  # its spam policy and lists go too (issue 18): a re-added name starts anew
            self.b.spam.drop_domain(domain.name)
        if self.b.password_policies is not None:  # and its password policy (issue 20)
            self.b.password_policies.drop_policy(domain.name)
        if self.b.password_lifecycle is not None:  # and its change-at-login and expiry settings (issue 20)
            self.b.password_lifecycle.drop_domain(domain.name)
        self.audit("domain.delete", "domain", domain.name, domain.name, before=domain)
        self.b.doveadm.flush_all()

    def _drop_admins_of(self, name: str) -> None:
        """Take the domain off every admin holding it (an admin left with none stays, with
        none); one admin.update record each."""
        for before in self.b.admins.drop_domain(name):
            after = dataclasses.replace(before, domains=tuple(d for d in before.domains if d.lower() != name))
            self.audit("admin.update", "admin", before.login, None, before=before, after=after)
