"""Reading the audit log, as far as the actor may see it: an operator everything; a
domain admin the records of its own domains only (a filter on another domain is
"not found", as everywhere else)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.models import Role
from mailgothai.core.reasons import Why
from mailgothai.core.text import check_text
from mailgothai.errors import InvalidInput
from mailgothai.services.base import Service
from mailgothai.store.audit import AuditEntry

MAX_PAGE = 200
# The days a time filter may name: every record is later than the first, and the last
# leaves room for any zone's offset (a bound is turned into UTC, as the log keeps its
# times). Checked with a day to spare, so that either day in any zone is accepted.
EARLIEST = date(1970, 1, 1)
LATEST = date(9999, 12, 30)
_LOWEST = datetime.combine(EARLIEST - timedelta(days=1), time(), UTC)
_HIGHEST = datetime.combine(LATEST + timedelta(days=1), time.max, UTC)


@dataclass(frozen=True)
class AuditFilter:
    domain: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    next_before: int | None  # pass as before_id for the next (older) page


def parse_filter(*, domain: str = "", actor: str = "", action: str = "", since: str = "",
                 until: str = "") -> AuditFilter:
    """Filter values as typed into a form or a query string."""
    def when(text: str, field: str) -> datetime | None:
        text = text.strip()
        if not text:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(field, Why.NOT_A_TIME(value=repr(text))) from None
        out_of_range = InvalidInput(field, Why.OUT_OF_RANGE(low=EARLIEST.isoformat(), high=LATEST.isoformat()))
        try:  # a time without a zone is the server's local time
            value = (value if value.tzinfo else value.astimezone()).astimezone(UTC)
        except (ValueError, OverflowError):  # past what a datetime holds (year 1 or 9999 with an offset)
            raise out_of_range from None
        if not _LOWEST <= value <= _HIGHEST:
            raise out_of_range
        return value

    return AuditFilter(
        domain=normalize_domain(domain) if domain.strip() else None,
        actor=check_text(actor.strip(), "actor", 255) or None,
        action=check_text(action.strip(), "action", 64) or None,
        since=when(since, "since"), until=when(until, "until"),
    )


MAX_RECORD_ID = 2**31 - 1  # the audit log's id column is a 32-bit integer on every SQL engine


def parse_before(value: int | str | None) -> int | None:
    """The record number a page of older entries starts below (from a link or a query).
    Any whole number: 0 (and 1) have no record before them; a number past the id column's
    range has every record before it, as no number at all (None: SQL would overflow)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidInput("before", Why.NOT_A_RECORD())
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_RECORD_ID)) or int(digits) > MAX_RECORD_ID:
        return None
    return int(digits)


class AuditQueryService(Service):
    def page(self, flt: AuditFilter, *, before_id: int | str | None = None, limit: int = 50) -> AuditPage:
        before_id = parse_before(before_id)
        limit = max(1, min(MAX_PAGE, limit))
        filters: dict[str, object] = {"actor": flt.actor, "action": flt.action, "since": flt.since,
                                      "until": flt.until}
        if flt.domain is not None:
            self.actor.require_domain(flt.domain)
            filters["domain"] = flt.domain
        if self.actor.role is Role.SUPERADMIN or flt.domain is not None:
            entries = self.b.audit.query(limit=limit + 1, before_id=before_id, **filters)
        else:
            entries = self._own_domains(filters, before_id, limit + 1)
        more = len(entries) > limit
        entries = entries[:limit]
        return AuditPage(tuple(entries), entries[-1].id if more and entries else None)

    def _own_domains(self, filters: dict[str, object], before_id: int | None, limit: int) -> list[AuditEntry]:
        """Newest records across the domain admin's domains (records with no domain, such
        as changes to admins, are an operator's business)."""
        domains = sorted(self.actor.domains)
        if not domains:
            return []
        merged: list[AuditEntry] = []
        for domain in domains:
            merged.extend(self.b.audit.query(limit=limit, before_id=before_id, domain=domain, **filters))
        merged.sort(key=lambda e: e.id, reverse=True)
        return merged[:limit]
