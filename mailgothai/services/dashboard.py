"""The dashboard's figures: domains, accounts, quota allocated and used.

Read from the domain entries (each carries its account count and allocated quota, kept
by the directory layer) and the per-domain usage totals: 434 entries and 434 rows,
never the 207,074 accounts. The result is kept while no change has been recorded
(newest audit id) and for at most `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from mailgothai.core.models import Domain, Role
from mailgothai.services.base import Service
from mailgothai.store.usage import DomainTotal

TOP = 10


@dataclass(frozen=True)
class DomainFigures:
    domain: Domain
    usage: DomainTotal | None


@dataclass(frozen=True)
class Dashboard:
    domains: int
    domains_suspended: int
    accounts: int
    quota_allocated: int
    quota_pool: int  # sum of pools that are limited
    quota_used: int
    accounts_read: int
    oldest_reading: datetime | None
    largest: tuple[DomainFigures, ...]


class DashboardCache:
    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._data: dict[tuple[object, ...], tuple[float, Dashboard]] = {}

    def get(self, key: tuple[object, ...]) -> Dashboard | None:
        with self._lock:
            hit = self._data.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    def put(self, key: tuple[object, ...], value: Dashboard) -> None:
        with self._lock:
            if len(self._data) > 256:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)


class DashboardService(Service):
    def figures(self, cache: DashboardCache) -> Dashboard:
        scope = None if self.actor.role is Role.SUPERADMIN else tuple(sorted(self.actor.domains))
        key = (scope, self.b.audit.newest_id())
        cached = cache.get(key)
        if cached is not None:
            return cached
        if scope is None:
            domains = list(self.b.domains.iter_all())
        else:
            domains = [d for d in (self.b.domains.find(name) for name in scope) if d is not None]
        totals = self.b.snapshots.totals(None if scope is None else [d.name for d in domains])
        readings = [t.oldest_read_at for t in totals.values() if t.oldest_read_at is not None]
        largest = sorted(domains, key=lambda d: d.account_count, reverse=True)[:TOP]
        result = Dashboard(
            domains=len(domains),
            domains_suspended=sum(1 for d in domains if d.status.value != "active"),
            accounts=sum(d.account_count for d in domains),
            quota_allocated=sum(d.quota_allocated for d in domains),
            quota_pool=sum(d.limits.quota_pool for d in domains),
            quota_used=sum(t.used_bytes for t in totals.values()),
            accounts_read=sum(t.accounts_read for t in totals.values()),
            oldest_reading=min(readings) if readings else None,
            largest=tuple(DomainFigures(d, totals.get(d.name)) for d in largest),
        )
        cache.put(key, result)
        return result
