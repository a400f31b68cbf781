"""Inbound protection as the store keeps it and the admin reads it (issue 18): a listed
allow or block rule with who added it, when a policy was changed, and the hourly counts
the relay records, grouped into the dashboard's columns. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mailgothai.core.spam import SenderRule, Verdict

BLOCKED = "blocked"  # the outcome the relay records for a sender on a block list

# The dashboard's columns and the outcomes (Verdict values, or BLOCKED) each one adds up.
COLUMNS: Mapping[str, frozenset[str]] = {
    "rejected": frozenset({Verdict.REJECT.value, Verdict.DMARC_REJECT.value, BLOCKED}),
    "quarantined": frozenset({Verdict.QUARANTINE.value}),
    "junk": frozenset({Verdict.JUNK.value}),
    "greylisted": frozenset({Verdict.GREYLIST.value}),
    "viruses": frozenset({Verdict.VIRUS.value}),
}


@dataclass(frozen=True)
class ListedRule:
    """A rule as listed: who added it and when."""

    rule: SenderRule
    created_at: datetime
    created_by: str

    def as_dict(self) -> dict[str, object]:
        return {"owner": self.rule.owner, "kind": self.rule.kind.value, "pattern": self.rule.pattern,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by}


@dataclass(frozen=True)
class Changed:
    """When a stored policy was last changed, and by whom."""

    at: datetime
    by: str


@dataclass(frozen=True)
class DomainCounts:
    """One domain's protection counts over a window, by the dashboard's columns."""

    domain: str
    rejected: int = 0
    quarantined: int = 0
    junk: int = 0
    greylisted: int = 0
    viruses: int = 0

    @classmethod
    def of(cls, domain: str, outcomes: Mapping[str, int]) -> DomainCounts:
        return cls(domain, **{column: sum(n for o, n in outcomes.items() if o in members)
                              for column, members in COLUMNS.items()})

    @property
    def total(self) -> int:
        return self.rejected + self.quarantined + self.junk + self.greylisted + self.viruses

    def as_dict(self) -> dict[str, object]:
        return {"domain": self.domain, "rejected": self.rejected, "quarantined": self.quarantined,
                "junk": self.junk, "greylisted": self.greylisted, "viruses": self.viruses}
