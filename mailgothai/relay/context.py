"""What every part of a running relay shares: its settings, directory view, router, DKIM
keys, checks, queue and stores (built by wiring.build, used by the SMTP handler)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from mailgothai.core.dkim import ParsedMessage
from mailgothai.directory.gateway import Gateway
from mailgothai.dkim.signer import sign
from mailgothai.dkim.table import KeyTable
from mailgothai.relay.auth import Authenticator
from mailgothai.relay.delivery import DeliveryQueue, log_message
from mailgothai.relay.inbound import InboundChecker
from mailgothai.relay.lookup import RelayDirectory
from mailgothai.relay.metrics import RelayMetrics
from mailgothai.relay.protection import Protection
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.quota import QuotaStatus
from mailgothai.relay.routing import Router
from mailgothai.relay.spool import Envelope, Spool, Target
from mailgothai.settings import Settings
from mailgothai.store import Store
from mailgothai.store.relay_state import SendCounters

log = logging.getLogger("mailgothai.relay")


@dataclass
class RelayContext:
    settings: Settings
    directory: RelayDirectory
    router: Router
    quota: QuotaStatus
    counters: SendCounters
    keys: KeyTable
    inbound: InboundChecker
    auth: Authenticator
    spool: Spool
    queue: DeliveryQueue
    store: Store
    gateway: Gateway
    quarantine: Quarantine  # messages kept instead of delivered (issue 18; relay/quarantine.py)
    protection: Protection | None = None  # rspamd and the spam policies (issue 18); None: protection = 0
    metrics: RelayMetrics = field(default_factory=RelayMetrics)  # relay/metrics.py

    def sign(self, message: bytes, domain: str, parsed: ParsedMessage | None = None) -> bytes:
        """DKIM-Signature fields for mail from `domain`; b"" when it has no active key or
        signing fails (the mail then goes out unsigned: it is never dropped)."""
        keys = self.keys.signing_keys(domain)
        if not keys:
            return b""
        try:
            signed = sign(message, keys, parsed=parsed)
        except Exception:  # noqa: BLE001 - any signing failure leaves the mail unsigned
            log.exception("DKIM signing for %s failed; sending unsigned", domain)
            return b""
        self.metrics.dkim_signatures.inc()
        return signed

    def log_accepted(self, envelope: Envelope, size: int, listener: str, **scan: object) -> None:
        """`scan`: rspamd's verdict on mail from outside (outcome, score), if it was asked."""
        log_message("accepted", queue_id=envelope.queue_id, listener=listener, client=envelope.client,
                    sender=envelope.sender, auth_user=envelope.auth_user or None, size=size,
                    recipients=[t.address for t in envelope.targets], **scan)

    async def route_sender(self, sender: str) -> tuple[Target, ...]:
        """Where a bounce to `sender` goes (its mailbox, or remote)."""
        expansion = await asyncio.to_thread(self.router.expand, sender)
        return expansion.targets

    def close(self) -> None:
        if self.auth.recorder is not None:  # the last logins waiting are written before the store closes
            self.auth.recorder.stop()
        if self.auth.app_uses is not None:
            self.auth.app_uses.stop()
        if self.protection is not None:  # the counts waiting are written before the store closes
            self.protection.tally.flush()
        self.gateway.close()
        self.store.close()
