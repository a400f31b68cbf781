"""The purge: deleted accounts whose retention has passed go for good, entry and mailbox,
unless they or their domain are on legal hold. Operators only; `mailgothai purge` runs it,
daily from a systemd timer (deploy/systemd/mailgothai-purge.timer), on the machine that
holds the mailboxes.

Each purge is resumable: the retained entry is first marked (it can no longer be restored),
then the mailbox is removed (moved aside, then deleted: mailstore/mailboxes.py), then the
audit record is written and the entry deleted. A purge killed anywhere is finished by the
next (a kill between the record and the entry's deletion records it twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from mailgothai.core.models import RetainedAccount
from mailgothai.core.retention import purge_verdict
from mailgothai.errors import DirectoryError
from mailgothai.services.actor import Actor
from mailgothai.services.auth import Clock, utcnow
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    retained: RetainedAccount
    reason: str


@dataclass
class PurgeReport:
    at: datetime
    dry_run: bool
    purged: list[RetainedAccount] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


class PurgeService(Service):
    def __init__(self, backends: Backends, actor: Actor, clock: Clock = utcnow) -> None:
        super().__init__(backends, actor)
        self.clock = clock

    def run(self, *, dry_run: bool = False) -> PurgeReport:
        self.actor.require_superadmin()
        now = self.clock()
        report = PurgeReport(now, dry_run)
        domain_holds: dict[str, str] = {}
        for retained in list(self.b.retained.iter_all()):
            if retained.domain not in domain_holds:
                domain = self.b.domains.find(retained.domain)
                domain_holds[retained.domain] = domain.hold_reason if domain is not None else ""
            verdict = purge_verdict(retained.purge_after, now, retained.hold_reason, domain_holds[retained.domain])
            if not verdict.purge and not retained.purging:
                report.kept.append(Kept(retained, verdict.reason))
                continue
            if not dry_run:
                self._purge(retained)
            report.purged.append(retained)
        if not dry_run:
            self.b.mailboxes.finish_removals()
        return report

    def _purge(self, retained: RetainedAccount) -> None:
        if self.b.accounts.find_by_id(retained.mailbox_id) is not None:
            # Never: a mailbox id is one entry's entryUUID. Refuse rather than remove live mail.
            raise DirectoryError(f"mailbox {retained.mailbox_id} belongs to a live account; not purged")
        if not retained.purging:
            self.b.retained.mark_purging(retained)
        self.b.mailboxes.remove(retained.mailbox_id)
        # Recorded before the entry goes: a kill in between gives a second record, never none.
        self.audit("account.purge", "account", retained.email, retained.domain, before=retained)
        if self.b.account_secrets is not None:  # its recovery address (outside the service) goes with it
            self.b.account_secrets.forget_mailbox(retained.mailbox_id)
        self.b.retained.delete(retained)
        log.info("purged %s (mailbox %s, deleted %s)", retained.email, retained.mailbox_id,
                 retained.deleted_at.isoformat())
