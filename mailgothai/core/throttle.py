"""Failed logins: slow down, then lock out, per account and per client address.

Pure bookkeeping with an injected clock; the relay asks `delay_for` before it checks
a password and `locked` to refuse without checking, and reports each result.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ThrottleRules:
    free_failures: int = 3  # failures of one account before its logins slow down
    ip_free_failures: int = 10  # failures from one address before its logins slow down
    base_delay: float = 0.25  # seconds, doubled for each further failure
    max_delay: float = 2.0
    account_lockout: int = 10  # failures within `window` that lock the account out
    ip_lockout: int = 100  # failures within `window` that lock the client address out (NAT: many users)
    window: float = 900.0  # seconds failures are remembered
    lockout: float = 900.0  # seconds a lockout lasts


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class FailureThrottle:
    def __init__(self, rules: ThrottleRules = ThrottleRules()) -> None:
        self.rules = rules
        self._accounts: dict[str, _Record] = {}
        self._ips: dict[str, _Record] = {}

    def _recent(self, record: _Record | None, now: float) -> int:
        if record is None:
            return 0
        cutoff = now - self.rules.window
        record.failures = [t for t in record.failures if t > cutoff]
        return len(record.failures)

    def locked(self, account: str, ip: str, now: float) -> bool:
        for record in (self._accounts.get(account), self._ips.get(ip)):
            if record is not None and record.locked_until > now:
                return True
        return False

    def delay_for(self, account: str, ip: str, now: float) -> float:
        """Seconds to wait before answering this attempt (0 while failures are few)."""
        extra = max(self._recent(self._accounts.get(account), now) - self.rules.free_failures,
                    self._recent(self._ips.get(ip), now) - self.rules.ip_free_failures)
        if extra < 0:
            return 0.0
        return min(self.rules.max_delay, self.rules.base_delay * (2 ** min(extra, 20)))

    def failed(self, account: str, ip: str, now: float) -> None:
        for table, key, limit in ((self._accounts, account, self.rules.account_lockout),
                                  (self._ips, ip, self.rules.ip_lockout)):
            record = table.setdefault(key, _Record())
            self._recent(record, now)
            record.failures.append(now)
            if len(record.failures) >= limit:
                record.locked_until = now + self.rules.lockout
        self._prune(now)

    def succeeded(self, account: str, ip: str) -> None:
        self._accounts.pop(account, None)

    def _prune(self, now: float) -> None:
        """Keep memory bounded under a flood of distinct names."""
        for table in (self._accounts, self._ips):
            if len(table) > 100_000:
                for key in [k for k, r in table.items() if r.locked_until <= now and self._recent(r, now) == 0]:
                    del table[key]
