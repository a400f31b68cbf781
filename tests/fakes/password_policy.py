"""The password policies in memory (port services/ports.PasswordPolicies; the real adapter
is store/password_policy.py, tested on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from mailgothai.core.password_policy import PasswordPolicy, strictest
from mailgothai.core.spam_records import Changed


class FakePasswordPolicies:
    def __init__(self) -> None:
        self.policies: dict[str, tuple[PasswordPolicy, Changed]] = {}
        self.floor_row: tuple[PasswordPolicy, Changed] | None = None

    def effective(self, domain: str) -> PasswordPolicy:
        own = self.policies.get(domain.lower())
        return strictest(own[0] if own else None, self.floor()[0])

    def floor(self) -> tuple[PasswordPolicy, Changed | None]:
        return self.floor_row or (PasswordPolicy(), None)

    def set_floor(self, policy: PasswordPolicy, by: str) -> None:
        self.floor_row = (policy, Changed(datetime.now(UTC), by))

    def own_policy(self, domain: str) -> tuple[PasswordPolicy, Changed] | None:
        return self.policies.get(domain.lower())

    def set_policy(self, domain: str, policy: PasswordPolicy, by: str) -> None:
        self.policies[domain.lower()] = (policy, Changed(datetime.now(UTC), by))

    def drop_policy(self, domain: str) -> bool:
        return self.policies.pop(domain.lower(), None) is not None
