"""The inbound protection tables in memory (port services/ports.SpamPolicies; the real
adapter is store/spam_policy.py, tested on SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from mailgothai.core.spam import PolicyBounds, SenderRule, SpamPolicy
from mailgothai.core.spam_records import Changed, ListedRule
from mailgothai.errors import AlreadyExists


class FakeSpamPolicies:
    def __init__(self) -> None:
        self.policies: dict[str, tuple[SpamPolicy, Changed]] = {}
        self.default: tuple[SpamPolicy, PolicyBounds] | None = None
        self.rules: list[ListedRule] = []
        self.hourly: dict[tuple[str, int, str], int] = {}  # (domain, hour, outcome) -> count

    def policy_of(self, domain: str) -> SpamPolicy:
        own = self.policies.get(domain.lower())
        return own[0] if own else self.defaults()[0]

    def rules_for(self, domain: str, address: str) -> tuple[SenderRule, ...]:
        owners = {domain.lower(), address.lower()}
        return tuple(r.rule for r in sorted(self.rules, key=lambda r: r.rule.kind.value, reverse=True)
                     if r.rule.owner in owners)

    def record(self, domain: str, outcome: str, count: int = 1, at: datetime | None = None) -> None:
        key = (domain.lower(), int((at or datetime.now(UTC)).timestamp()) // 3600, outcome)
        self.hourly[key] = self.hourly.get(key, 0) + count

    def own_policy(self, domain: str) -> tuple[SpamPolicy, Changed] | None:
        return self.policies.get(domain.lower())

    def set_policy(self, domain: str, policy: SpamPolicy, by: str) -> None:
        self.policies[domain.lower()] = (policy, Changed(datetime.now(UTC), by))

    def drop_policy(self, domain: str) -> bool:
        return self.policies.pop(domain.lower(), None) is not None

    def defaults(self) -> tuple[SpamPolicy, PolicyBounds]:
        return self.default or (SpamPolicy(), PolicyBounds())

    def set_defaults(self, policy: SpamPolicy, bounds: PolicyBounds, by: str) -> None:
        self.default = (policy, bounds)

    def rules_of(self, owner: str) -> list[ListedRule]:
        return sorted((r for r in self.rules if r.rule.owner == owner.lower()),
                      key=lambda r: (r.rule.kind.value, r.rule.pattern))

    def add_rule(self, rule: SenderRule, by: str) -> ListedRule:
        if any(r.rule == rule for r in self.rules):
            raise AlreadyExists("pattern", rule.pattern, f"on the {rule.kind.value} list of {rule.owner}")
        listed = ListedRule(rule, datetime.now(UTC), by)
        self.rules.append(listed)
        return listed

    def remove_rule(self, rule: SenderRule) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.rule != rule]
        return len(self.rules) < before

    def drop_owner(self, owner: str) -> int:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.rule.owner != owner.lower()]
        return before - len(self.rules)

    def move_owner(self, old: str, new: str) -> int:
        self.drop_owner(new)
        moved = [r for r in self.rules if r.rule.owner == old.lower()]
        self.rules = [r for r in self.rules if r.rule.owner != old.lower()] + [
            dataclasses.replace(r, rule=dataclasses.replace(r.rule, owner=new.lower())) for r in moved]
        return len(moved)

    def drop_domain(self, domain: str) -> None:
        self.policies.pop(domain.lower(), None)
        self.rules = [r for r in self.rules
                      if r.rule.owner != domain.lower() and not r.rule.owner.endswith("@" + domain.lower())]

    def counts(self, domains: Sequence[str] | None, since: datetime) -> dict[str, dict[str, int]]:
        first = int(since.timestamp()) // 3600
        wanted = None if domains is None else {d.lower() for d in domains}
        out: dict[str, dict[str, int]] = {}
        for (domain, hour, outcome), n in self.hourly.items():
            if hour >= first and (wanted is None or domain in wanted):
                out.setdefault(domain, {})
                out[domain][outcome] = out[domain].get(outcome, 0) + n
        return out
