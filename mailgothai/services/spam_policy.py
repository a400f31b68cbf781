"""Inbound protection settings (issue 18): each domain's spam policy, the operator's
default policy and the bounds domain admins keep to, the allow and block lists of a
domain and of a user, and the last 24 hours' protection counts.

Who may do what: the operator anything core/spam.check_policy allows; a domain admin its
own domains' policies within the operator's bounds and their lists and their users'
lists (another domain is not found); a mail user (`of_user`, the web's self-service) only
their own lists. The relay reads the same store (store/spam_policy.py: policy_of,
rules_for, record; it keeps their answers a few seconds, and a relay running from this
data directory reads afresh at once, told by SIGUSR1). Every change leaves an audit record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailgothai.core import spam_input
from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.models import Role
from mailgothai.core.reasons import Why
from mailgothai.core.spam import PolicyBounds, SenderRule, SpamPolicy, check_policy
from mailgothai.core.spam_records import Changed, DomainCounts, ListedRule
from mailgothai.errors import InvalidInput, MailGoThaiError, NotFound
from mailgothai.services import ports
from mailgothai.services.base import SelfServable

MAX_RULES = 500  # per owner, both lists together
WINDOW_HOURS = 24


@dataclass(frozen=True)
class DomainPolicy:
    domain: str
    policy: SpamPolicy
    own: bool  # False: the domain follows the operator's default
    changed: Changed | None
    bounds: PolicyBounds | None  # what the asking actor must keep to (None: an operator)

    def as_dict(self) -> dict[str, object]:
        return {"domain": self.domain, **spam_input.policy_data(self.policy), "own": self.own,
                "changed_at": self.changed.at.isoformat() if self.changed else None,
                "changed_by": self.changed.by if self.changed else None,
                "bounds": spam_input.bounds_data(self.bounds) if self.bounds else None}


@dataclass(frozen=True)
class Defaults:
    policy: SpamPolicy
    bounds: PolicyBounds

    def as_dict(self) -> dict[str, object]:
        return {**spam_input.policy_data(self.policy), **spam_input.bounds_data(self.bounds)}


def _rule_data(rule: SenderRule) -> dict[str, object]:
    return {"owner": rule.owner, "kind": rule.kind.value, "pattern": rule.pattern}


class SpamPolicyService(SelfServable):
    @property
    def _store(self) -> ports.SpamPolicies:
        if self.b.spam is None:
            raise MailGoThaiError("spam policies are not available with these backends")
        return self.b.spam

    @property
    def _operator(self) -> bool:
        return self.actor.role is Role.SUPERADMIN and self._self_email is None

    def _domain(self, domain: str) -> str:
        name = normalize_domain(domain)
        if self._self_email is not None:
            raise NotFound("domain", name)
        self.actor.require_domain(name)
        return self.b.domains.get(name).name

    # ---- a domain's policy ------------------------------------------------------------
    def show(self, domain: str) -> DomainPolicy:
        name = self._domain(domain)
        own = self._store.own_policy(name)
        default, bounds = self._store.defaults()
        return DomainPolicy(name, own[0] if own else default, own is not None, own[1] if own else None,
                            None if self._operator else bounds)

    def set(self, domain: str, changes: Mapping[str, object]) -> DomainPolicy:
        """Change the fields given (the others stay as they are, or as the default gives
        them); checked against the operator's bounds for a domain admin. Nothing is stored
        on an error."""
        current = self.show(domain)
        policy = check_policy(spam_input.policy_with(current.policy, changes), current.bounds)
        self._store.set_policy(current.domain, policy, self.actor.login)
        self.audit("spam.policy.set", "domain", current.domain, current.domain,
                   before=spam_input.policy_data(current.policy) if current.own else None,
                   after=spam_input.policy_data(policy))
        self.b.tell_relay()
        return self.show(current.domain)

    def reset(self, domain: str) -> DomainPolicy:
        """The domain follows the operator's default again."""
        current = self.show(domain)
        if self._store.drop_policy(current.domain):
            self.audit("spam.policy.reset", "domain", current.domain, current.domain,
                       before=spam_input.policy_data(current.policy))
            self.b.tell_relay()
        return self.show(current.domain)

    # ---- the operator's defaults and bounds ----------------------------------------------
    def defaults(self) -> Defaults:
        self.actor.require_superadmin()
        return Defaults(*self._store.defaults())

    def set_defaults(self, changes: Mapping[str, object]) -> Defaults:
        """The default policy (of every domain without its own) and the bounds for domain
        admins; the default must be within the bounds."""
        self.actor.require_superadmin()
        before = Defaults(*self._store.defaults())
        bounds = spam_input.bounds_with(before.bounds, changes)
        policy = check_policy(spam_input.policy_with(before.policy, changes, also=spam_input.BOUNDS_FIELDS), bounds)
        self._store.set_defaults(policy, bounds, self.actor.login)
        after = Defaults(policy, bounds)
        self.audit("spam.defaults.set", "settings", "spam_defaults", None, before=before.as_dict(),
                   after=after.as_dict())
        self.b.tell_relay()
        return after

    # ---- allow and block lists --------------------------------------------------------
    def _owner(self, owner: str) -> tuple[str, str]:
        """(the owner's stored form, its domain) if the actor reaches it; else not found."""
        if "@" not in owner:
            name = self._domain(owner)
            return name, name
        email = normalize_address(owner, "owner")
        domain = split_address(email)[1]
        if self._self_email is not None:
            if email != self._self_email:
                raise NotFound("account", email)
        else:
            self.actor.require_domain(domain)
        return self.b.accounts.get(email).email.lower(), domain

    def rules(self, owner: str) -> list[ListedRule]:
        name, _ = self._owner(owner)
        return self._store.rules_of(name)

    def add_rule(self, owner: str, kind: object, pattern: object) -> ListedRule:
        name, domain = self._owner(owner)
        rule = SenderRule(name, spam_input.kind(kind), spam_input.pattern(pattern))
        if len(self._store.rules_of(name)) >= MAX_RULES:
            raise InvalidInput("pattern", Why.TOO_MANY_RULES(max=MAX_RULES))
        listed = self._store.add_rule(rule, self.actor.login)
        self.audit("spam.rule.add", "sender_rule", name, domain, after=_rule_data(rule))
        self.b.tell_relay()
        return listed

    def remove_rule(self, owner: str, kind: object, pattern: object) -> None:
        name, domain = self._owner(owner)
        rule = SenderRule(name, spam_input.kind(kind), spam_input.pattern(pattern))
        if not self._store.remove_rule(rule):
            raise NotFound(f"{rule.kind.value} list entry", rule.pattern)
        self.audit("spam.rule.remove", "sender_rule", name, domain, before=_rule_data(rule))
        self.b.tell_relay()

    # ---- the dashboard's counts ---------------------------------------------------------
    def counts(self, now: datetime | None = None) -> list[DomainCounts]:
        """Each reachable domain's counts of the last 24 hours (this hour and the 23 before),
        most first: every domain with any for an operator, each of its domains for a
        domain admin."""
        if self._self_email is not None:
            raise NotFound("domain", "")
        since = (now or datetime.now(UTC)) - timedelta(hours=WINDOW_HOURS - 1)
        scope = None if self._operator else sorted(self.actor.domains)
        found = self._store.counts(scope, since)
        names = found.keys() if scope is None else scope
        rows = [DomainCounts.of(name, found.get(name, {})) for name in names]
        return sorted(rows, key=lambda r: (-r.total, r.domain))

