"""Rate bookkeeping for the relay, pure, with an injected clock.

`FailureThrottle` — failed logins: slow down, then lock out, per account and per
client address; the relay asks `delay_for` before it checks a password and `locked`
to refuse without checking, and reports each result.

`CommandBuckets` — SMTP commands (and new connections) per client address: a token
bucket each, so a steady, well-behaved client never runs dry while one that hammers
the listener does.
"""

from __future__ import annotations

import ipaddress
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


# ---- commands per client address -----------------------------------------------------
@dataclass(frozen=True)
class CommandRules:
    rate: float  # tokens added a second (sustained commands a second); 0: no limit
    burst: float  # the bucket's size: commands one address may send at once


def client_key(ip: str) -> str:
    """Whose bucket a peer address draws from: the address itself for IPv4, its /64 for
    IPv6 (one host usually holds a whole /64, so per-address buckets would not bind)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class CommandBuckets:
    """One token bucket per client key. `take` spends one token if there is one.

    A bucket that has refilled completely is the same as no bucket, so the table only
    keeps keys seen within the last `burst / rate` seconds and prunes the rest when it
    grows past `size` (memory stays bounded under a flood of distinct addresses).
    """

    def __init__(self, rules: CommandRules, size: int = 100_000) -> None:
        self.rules = rules
        self._size = size
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def _level(self, key: str, now: float) -> float:
        hit = self._buckets.get(key)
        if hit is None:
            return self.rules.burst
        tokens, at = hit
        return min(self.rules.burst, tokens + max(0.0, now - at) * self.rules.rate)

    def take(self, key: str, now: float, cost: float = 1.0) -> bool:
        if self.rules.rate <= 0:
            return True
        level = self._level(key, now)
        if level < cost:
            self._buckets[key] = (level, now)
            return False
        if key not in self._buckets and len(self._buckets) >= self._size:
            self._prune(now)
        self._buckets[key] = (level - cost, now)
        return True

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.rules.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._size:  # every one of them busy: keep the emptiest half
            keep = sorted(self._buckets, key=lambda k: self._level(k, now))[: self._size // 2]
            self._buckets = {k: self._buckets[k] for k in keep}

    def __len__(self) -> int:
        return len(self._buckets)
