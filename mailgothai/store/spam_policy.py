"""Inbound protection in SQL (issue 18, migration 0007): each domain's spam policy, the
operator's default policy and the bounds a domain admin must keep to, the allow and block
lists of domains and users, and the hourly protection counts behind the dashboard.

What the relay reads: `policy_of` (the domain's own policy, else the operator's default),
`rules_for` (the domain's rules and the recipient's own) and `record` (one upsert adding to
the hour's count, so several relays sharing the database count together). Values come in
already checked (services/spam_policy.py); this module only stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CursorResult,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.core.spam import ListKind, PolicyBounds, SenderRule, SpamPolicy
from mailgothai.core.spam_records import Changed, ListedRule
from mailgothai.errors import AlreadyExists, StoreError
from mailgothai.store.db import Store
from mailgothai.store.models import Base
from mailgothai.store.times import aware

DEFAULTS_ID = 1
HOUR = 3600
KEEP_HOURS = 48  # counts older than this are forgotten (the dashboard shows 24 hours)


class _PolicyColumns:
    """A SpamPolicy's columns (NULL score: that outcome off), and who changed it when: a
    domain's own row and the operator's default row alike."""

    junk_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    quarantine_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    reject_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    greylisting: Mapped[bool] = mapped_column(Boolean)
    quarantine_days: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[str] = mapped_column(String(255))


class SpamPolicyRow(_PolicyColumns, Base):
    __tablename__ = "spam_policies"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)


class SpamDefaultsRow(_PolicyColumns, Base):
    __tablename__ = "spam_defaults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lowest_score: Mapped[float] = mapped_column(Float)
    highest_score: Mapped[float] = mapped_column(Float)
    longest_quarantine_days: Mapped[int] = mapped_column(Integer)
    may_disable_greylisting: Mapped[bool] = mapped_column(Boolean)


class SenderRuleRow(Base):
    __tablename__ = "sender_rules"
    __table_args__ = (UniqueConstraint("owner", "kind", "pattern", name="uq_sender_rules_owner_kind_pattern"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(8))
    pattern: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(255))


class ProtectionCountRow(Base):
    __tablename__ = "protection_counts"
    __table_args__ = (Index("ix_protection_counts_hour", "hour"),)

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # hours since the epoch, UTC
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


def hour_of(at: datetime) -> int:
    return int(at.timestamp()) // HOUR


def _policy(row: SpamPolicyRow | SpamDefaultsRow) -> SpamPolicy:
    return SpamPolicy(junk=row.junk_score, quarantine=row.quarantine_score, reject=row.reject_score,
                      greylisting=bool(row.greylisting), quarantine_days=int(row.quarantine_days))


def _policy_values(policy: SpamPolicy) -> dict[str, Any]:
    return {"junk_score": policy.junk, "quarantine_score": policy.quarantine, "reject_score": policy.reject,
            "greylisting": policy.greylisting, "quarantine_days": policy.quarantine_days}


def _listed(row: SenderRuleRow) -> ListedRule:
    return ListedRule(SenderRule(row.owner, ListKind(row.kind), row.pattern), aware(row.created_at), row.created_by)


class SpamPolicies:
    """The adapter (port services/ports.SpamPolicies); the relay uses the first three."""

    def __init__(self, store: Store) -> None:
        self._store = store
        dialect = store.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"protection counts need SQLite or PostgreSQL, not {dialect}")
        self._count = self._count_statement(sqlite.insert if dialect == "sqlite" else postgresql.insert)
        self._pruned_hour = -1  # the hour whose first record forgot the counts past KEEP_HOURS

    # ---- what the relay reads ----------------------------------------------------------

    def policy_of(self, domain: str) -> SpamPolicy:
        """The domain's own policy, else the operator's default (else the built-in one)."""
        with self._store.session() as session:
            row: SpamPolicyRow | SpamDefaultsRow | None = session.get(SpamPolicyRow, domain.lower())
            if row is None:
                row = session.get(SpamDefaultsRow, DEFAULTS_ID)
            return _policy(row) if row is not None else SpamPolicy()

    def rules_for(self, domain: str, address: str) -> tuple[SenderRule, ...]:
        """The domain's rules and the user's own (blocks first: `listed` stops at one)."""
        owners = {domain.lower(), address.lower()} - {""}
        with self._store.session() as session:
            rows = session.scalars(select(SenderRuleRow).where(SenderRuleRow.owner.in_(owners))
                                   .order_by(SenderRuleRow.kind.desc(), SenderRuleRow.id)).all()
            return tuple(SenderRule(r.owner, ListKind(r.kind), r.pattern) for r in rows)

    def rule_owners(self, domain: str) -> frozenset[str]:
        """The owners with rules in `domain`: the domain itself and its addresses that have
        any (one query per domain, so a relay reads no rules for the many that have none)."""
        with self._store.session() as session:
            return frozenset(session.scalars(select(SenderRuleRow.owner).distinct().where(
                _in_domain(domain.lower()))).all())

    def record(self, domain: str, outcome: str, count: int = 1, at: datetime | None = None) -> None:
        """Add `count` to the domain's count of `outcome` for this hour (one upsert).
        `outcome`: a core.spam.Verdict value, or "blocked" (a sender on a block list);
        core/spam_records.py groups them into the dashboard's columns."""
        hour = hour_of(at or datetime.now(UTC))
        params = {"domain": domain.lower(), "hour": hour, "outcome": outcome[:16], "count": count}
        try:
            with self._store.engine.begin() as conn:
                conn.execute(self._count, params)
                if hour > self._pruned_hour:  # once an hour per process: the table keeps KEEP_HOURS
                    self._pruned_hour = hour
                    conn.execute(delete(ProtectionCountRow).where(ProtectionCountRow.hour < hour - KEEP_HOURS))
        except SQLAlchemyError as exc:
            raise StoreError(f"SQL store: {exc}") from exc

    @staticmethod
    def _count_statement(insert: Any) -> Any:
        table = cast(Table, ProtectionCountRow.__table__)
        stmt = insert(table).values(domain=bindparam("domain"), hour=bindparam("hour"),
                                    outcome=bindparam("outcome"), count=bindparam("count"))
        return stmt.on_conflict_do_update(index_elements=[table.c.domain, table.c.hour, table.c.outcome],
                                          set_={"count": table.c.count + stmt.excluded.count})

    # ---- policies ----------------------------------------------------------------------

    def own_policy(self, domain: str) -> tuple[SpamPolicy, Changed] | None:
        """The domain's own policy (None: it follows the operator's default)."""
        with self._store.session() as session:
            row = session.get(SpamPolicyRow, domain.lower())
            return (_policy(row), Changed(aware(row.changed_at), row.changed_by)) if row is not None else None

    def set_policy(self, domain: str, policy: SpamPolicy, by: str) -> None:
        with self._store.session() as session:
            row = session.get(SpamPolicyRow, domain.lower())
            if row is None:
                row = SpamPolicyRow(domain=domain.lower())
                session.add(row)
            for name, value in _policy_values(policy).items():
                setattr(row, name, value)
            row.changed_at, row.changed_by = datetime.now(UTC), by

    def drop_policy(self, domain: str) -> bool:
        """The domain follows the default again; False if it had no policy of its own."""
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(
                delete(SpamPolicyRow).where(SpamPolicyRow.domain == domain.lower())))
            return bool(result.rowcount)

    def defaults(self) -> tuple[SpamPolicy, PolicyBounds]:
        """The operator's default policy and bounds (built-in ones until set)."""
        with self._store.session() as session:
            row = session.get(SpamDefaultsRow, DEFAULTS_ID)
            if row is None:
                return SpamPolicy(), PolicyBounds()
            return _policy(row), PolicyBounds(row.lowest_score, row.highest_score, int(row.longest_quarantine_days),
                                              bool(row.may_disable_greylisting))

    def set_defaults(self, policy: SpamPolicy, bounds: PolicyBounds, by: str) -> None:
        with self._store.session() as session:
            row = session.get(SpamDefaultsRow, DEFAULTS_ID)
            if row is None:
                row = SpamDefaultsRow(id=DEFAULTS_ID)
                session.add(row)
            for name, value in _policy_values(policy).items():
                setattr(row, name, value)
            row.lowest_score, row.highest_score = bounds.lowest_score, bounds.highest_score
            row.longest_quarantine_days = bounds.longest_quarantine_days
            row.may_disable_greylisting = bounds.may_disable_greylisting
            row.changed_at, row.changed_by = datetime.now(UTC), by

    # ---- allow and block lists -----------------------------------------------------------

    def rules_of(self, owner: str) -> list[ListedRule]:
        """One owner's rules (a domain's or a user's), allow first, by pattern."""
        with self._store.session() as session:
            rows = session.scalars(select(SenderRuleRow).where(SenderRuleRow.owner == owner.lower())
                                   .order_by(SenderRuleRow.kind, SenderRuleRow.pattern)).all()
            return [_listed(r) for r in rows]

    def add_rule(self, rule: SenderRule, by: str) -> ListedRule:
        """AlreadyExists if the owner has that pattern on that list already."""
        row = SenderRuleRow(owner=rule.owner.lower(), kind=rule.kind.value, pattern=rule.pattern.lower(),
                            created_at=datetime.now(UTC), created_by=by)
        try:
            with self._store.session() as session:
                session.add(row)
                session.flush()
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise AlreadyExists("pattern", rule.pattern, f"on the {rule.kind.value} list of {rule.owner}") from exc
            raise
        return _listed(row)

    def remove_rule(self, rule: SenderRule) -> bool:
        """False if there was no such rule."""
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(delete(SenderRuleRow).where(
                SenderRuleRow.owner == rule.owner.lower(), SenderRuleRow.kind == rule.kind.value,
                SenderRuleRow.pattern == rule.pattern.lower())))
            return bool(result.rowcount)

    def drop_owner(self, owner: str) -> int:
        """Every rule of a domain or user that is gone; how many there were."""
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(
                delete(SenderRuleRow).where(SenderRuleRow.owner == owner.lower())))
            return int(result.rowcount)

    def move_owner(self, old: str, new: str) -> int:
        """A renamed account's rules follow it (a stale rule of the new address goes first)."""
        with self._store.session() as session:
            session.execute(delete(SenderRuleRow).where(SenderRuleRow.owner == new.lower()))
            result = cast(CursorResult[Any], session.execute(
                update(SenderRuleRow).where(SenderRuleRow.owner == old.lower()).values(owner=new.lower())))
            return int(result.rowcount)

    def drop_domain(self, domain: str) -> None:
        """A deleted domain's policy and the rules of the domain and of its addresses."""
        domain = domain.lower()
        with self._store.session() as session:
            session.execute(delete(SpamPolicyRow).where(SpamPolicyRow.domain == domain))
            session.execute(delete(SenderRuleRow).where(_in_domain(domain)))

    # ---- counts --------------------------------------------------------------------------

    def counts(self, domains: Sequence[str] | None, since: datetime) -> dict[str, dict[str, int]]:
        """Each domain's counts per outcome from the hour of `since` on (None: every domain's)."""
        where = [ProtectionCountRow.hour >= hour_of(since)]
        if domains is not None:
            if not domains:
                return {}
            where.append(ProtectionCountRow.domain.in_([d.lower() for d in domains]))
        out: dict[str, dict[str, int]] = {}
        with self._store.session() as session:
            for domain, outcome, total in session.execute(
                    select(ProtectionCountRow.domain, ProtectionCountRow.outcome, func.sum(ProtectionCountRow.count))
                    .where(*where).group_by(ProtectionCountRow.domain, ProtectionCountRow.outcome)):
                out.setdefault(domain, {})[outcome] = int(total or 0)
        return out

    def prune_counts(self, before: datetime) -> int:
        """Forget the counts of hours before `before`; how many rows went."""
        with self._store.session() as session:
            result = cast(CursorResult[Any], session.execute(
                delete(ProtectionCountRow).where(ProtectionCountRow.hour < hour_of(before))))
            return int(result.rowcount)


def _in_domain(domain: str) -> Any:
    """Rules owned by `domain` or by one of its addresses (the name escaped for LIKE)."""
    escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(SenderRuleRow.owner == domain, SenderRuleRow.owner.like("%@" + escaped, escape="\\"))
