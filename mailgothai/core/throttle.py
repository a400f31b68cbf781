"""Rate bookkeeping for the relay, pure, with an injected clock.

(Failed logins are not counted here: core/login_budget.py is the one budget every
login — web, SMTP AUTH, IMAP — shares.)

`CommandBuckets` — SMTP commands (and new connections) per client address: a token
bucket each, so a steady, well-behaved client never runs dry while one that hammers
the listener does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


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


class OpenConnections:
    """Open connections per client key (`client_key`: an IPv4 address, an IPv6 /64), so the
    cap binds a host that holds a whole /64 as the command buckets do (per exact IPv6
    address it would let one /64 hold any number of idle connections)."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def opened(self, ip: str) -> tuple[str, int]:
        """Count a new connection from `ip`: its key (give it to `closed`) and how many
        connections that key has open now, this one included."""
        key = client_key(ip)
        self._open[key] = self._open.get(key, 0) + 1
        return key, self._open[key]

    def closed(self, key: str) -> None:
        left = self._open.get(key, 0) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)

    def count(self, ip: str) -> int:
        return self._open.get(client_key(ip), 0)


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
