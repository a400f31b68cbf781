"""The SQL store's ports in memory: the audit log and the usage snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from mailgothai.core.addresses import split_address
from mailgothai.store.audit import AuditEntry, clean
from mailgothai.store.usage import DomainTotal, Reading


class FakeAuditLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []  # oldest first

    def record(self, *, actor: str, origin: str, action: str, object_type: str, object_id: str,
               domain: str | None = None, before: Any = None, after: Any = None) -> None:
        self.entries.append(AuditEntry(len(self.entries) + 1, datetime.now(UTC), actor, origin, action,
                                       object_type, object_id, domain, clean(before), clean(after)))

    def query(self, *, limit: int = 100, before_id: int | None = None, **filters: Any) -> list[AuditEntry]:
        found = []
        for entry in reversed(self.entries):
            if before_id is not None and entry.id >= before_id:
                continue
            if filters.get("since") is not None and entry.at < filters["since"]:
                continue
            if filters.get("until") is not None and entry.at >= filters["until"]:
                continue
            if all(filters.get(name) is None or getattr(entry, name) == filters[name]
                   for name in ("domain", "actor", "action", "object_id")):
                found.append(entry)
        return found[:limit]

    def newest_id(self, domain: str | None = None) -> int:
        return max((e.id for e in self.entries if domain is None or e.domain == domain), default=0)

    def newest_ids(self, domains: Sequence[str]) -> dict[str, int]:
        return {d: self.newest_id(d) for d in domains if self.newest_id(d)}

    def actions(self) -> list[str]:
        """The actions recorded, oldest first (for the tests)."""
        return [e.action for e in self.entries]


class FakeSnapshots:
    def __init__(self) -> None:
        self.by_email: dict[str, Reading] = {}

    def readings(self, emails: Sequence[str]) -> dict[str, Reading]:
        return {e: self.by_email[e] for e in emails if e in self.by_email}

    def write(self, used: dict[str, int], domains: dict[str, str], at: datetime) -> None:
        for email, value in used.items():
            self.by_email[email] = Reading(value, at)

    def forget(self, emails: Iterable[str]) -> None:
        for email in emails:
            self.by_email.pop(email, None)

    def totals(self, domains: Sequence[str] | None) -> dict[str, DomainTotal]:
        totals: dict[str, DomainTotal] = {}
        for email, reading in self.by_email.items():
            domain = split_address(email)[1]
            if domains is not None and domain not in domains:
                continue
            old = totals.get(domain, DomainTotal(domain, 0, 0, None, None))
            totals[domain] = DomainTotal(domain, old.used_bytes + reading.used_bytes, old.accounts_read + 1,
                                         min(filter(None, (old.oldest_read_at, reading.read_at))),
                                         max(filter(None, (old.newest_read_at, reading.read_at))))
        return totals
