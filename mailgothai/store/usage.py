"""Quota usage snapshots in SQL (tables `quota_snapshots` and `domain_usage`, migration
0003): one reading per account as Dovecot reported it, and each domain's totals, kept
when readings are written. No rights here: services/usage.py checks them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from mailgothai.store.db import Store
from mailgothai.store.times import aware, aware_or_none
from mailgothai.store.web_state import DomainUsage, QuotaSnapshot


@dataclass(frozen=True)
class Reading:
    used_bytes: int
    read_at: datetime


@dataclass(frozen=True)
class DomainTotal:
    domain: str
    used_bytes: int
    accounts_read: int
    oldest_read_at: datetime | None
    newest_read_at: datetime | None


class SnapshotStore:
    """The snapshot tables."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def readings(self, emails: Sequence[str]) -> dict[str, Reading]:
        if not emails:
            return {}
        with self._store.session() as session:
            rows = session.scalars(select(QuotaSnapshot).where(QuotaSnapshot.email.in_(list(emails)))).all()
            return {r.email: Reading(r.used_bytes, aware(r.read_at)) for r in rows}

    def write(self, used: dict[str, int], domains: dict[str, str], at: datetime) -> None:
        """Store readings (email → bytes) and recompute the totals of their domains."""
        if not used:
            return
        with self._store.session() as session:
            existing = {r.email: r for r in session.scalars(
                select(QuotaSnapshot).where(QuotaSnapshot.email.in_(list(used)))).all()}
            for email, value in used.items():
                row = existing.get(email)
                if row is None:
                    session.add(QuotaSnapshot(email=email, domain=domains[email], used_bytes=value, read_at=at))
                else:
                    row.used_bytes, row.read_at = value, at
        self.recompute({domains[e] for e in used})

    def forget(self, emails: Iterable[str]) -> None:
        emails = list(emails)
        with self._store.session() as session:
            rows = session.scalars(select(QuotaSnapshot).where(QuotaSnapshot.email.in_(emails))).all()
            domains = {r.domain for r in rows}
            for row in rows:
                session.delete(row)
        self.recompute(domains)

    def recompute(self, domains: Iterable[str]) -> None:
        with self._store.session() as session:
            for domain in domains:
                used, count, oldest, newest = session.execute(
                    select(func.coalesce(func.sum(QuotaSnapshot.used_bytes), 0), func.count(),
                           func.min(QuotaSnapshot.read_at), func.max(QuotaSnapshot.read_at))
                    .where(QuotaSnapshot.domain == domain)).one()
                row = session.get(DomainUsage, domain)
                if row is None:
                    row = DomainUsage(domain=domain, used_bytes=0, accounts_read=0)
                    session.add(row)
                row.used_bytes, row.accounts_read = int(used), int(count)
                row.oldest_read_at, row.newest_read_at = oldest, newest

    def totals(self, domains: Sequence[str] | None) -> dict[str, DomainTotal]:
        """Totals of the given domains (None: all)."""
        query = select(DomainUsage)
        if domains is not None:
            if not domains:
                return {}
            query = query.where(DomainUsage.domain.in_(list(domains)))
        with self._store.session() as session:
            return {r.domain: DomainTotal(r.domain, r.used_bytes, r.accounts_read, aware_or_none(r.oldest_read_at),
                                          aware_or_none(r.newest_read_at))
                    for r in session.scalars(query).all()}
