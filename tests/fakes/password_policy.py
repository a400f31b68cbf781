"""The password policies in memory (port services/ports.PasswordPolicies; the real adapter
is store/password_policy.py, tested on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from mailgothai.core.password_lifecycle import Lifecycle
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


class FakePasswordLifecycles:
    """Passwords over time in memory (port services/ports.PasswordLifecycles; the real
    adapter is store/password_lifecycle.py)."""

    def __init__(self) -> None:
        self.settings: dict[str, tuple[Lifecycle, Changed]] = {}
        self.warnings: dict[tuple[str, datetime], datetime] = {}

    def get(self, domain: str) -> tuple[Lifecycle, Changed | None]:
        return self.settings.get(domain.lower(), (Lifecycle(), None))

    def set(self, domain: str, lifecycle: Lifecycle, at: datetime, by: str) -> None:
        self.settings[domain.lower()] = (lifecycle, Changed(at, by))

    def with_expiry(self) -> dict[str, Lifecycle]:
        return {d: lc for d, (lc, _) in self.settings.items() if lc.max_age_days is not None}

    def drop_domain(self, domain: str) -> None:
        self.settings.pop(domain.lower(), None)

    def claim_warning(self, email: str, expires_at: datetime, at: datetime) -> bool:
        if (email.lower(), expires_at) in self.warnings:
            return False
        self.warnings[(email.lower(), expires_at)] = at
        return True

    def release_warning(self, email: str, expires_at: datetime) -> None:
        self.warnings.pop((email.lower(), expires_at), None)

    def move_warnings(self, old: str, new: str) -> None:
        self.drop_warnings(new)
        for email, expires in [key for key in self.warnings if key[0] == old.lower()]:
            self.warnings[(new.lower(), expires)] = self.warnings.pop((email, expires))

    def drop_warnings(self, email: str) -> None:
        for key in [key for key in self.warnings if key[0] == email.lower()]:
            del self.warnings[key]

    def forget_warnings(self, before: datetime) -> int:
        old = [key for key in self.warnings if key[1] < before]
        for key in old:
            del self.warnings[key]
        return len(old)
