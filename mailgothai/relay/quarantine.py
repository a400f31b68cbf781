"""The quarantine in the relay (issue 18): messages over their domain's quarantine score
are kept here instead of delivered, and leave only when a person releases them.

- `keep` (blocking; the DATA hook calls it in a worker thread, before it answers 250):
  the message's bytes into QUARANTINE/ID (0600, fsynced, in a 0700 directory fsynced,
  store/quarantine_files.py), then its rows in SQL (store/quarantine.py: the message and
  each recipient, held). If SQL fails the file goes and the error is raised (the relay
  answers 451: the sender tries again); a file whose rows never came is removed later.
- `run` (a loop of the relay, beside the Sieve pickup's), every second and at SIGUSR1:
  each recipient of this node's messages asked to be released is spooled (by the relay that
  holds its file: relays sharing one `relay_hostname` each keep their own) with the queue
  id `core.quarantine.release_queue_id` (the message's bytes unchanged, its original
  envelope sender, that one target), then marked released. A relay that dies between
  the two finds, at its next start (`settle`, before the queue delivers anything), the id
  already in the spool and only marks it: released exactly once. Every minute: messages
  past their expiry go (rows and file), and files that no recipient still holds (all
  released or deleted) are removed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from mailgothai.core.quarantine import Held, Recipient, release_queue_id, subject_of
from mailgothai.core.spam import Scan
from mailgothai.relay.delivery import DeliveryQueue, log_message
from mailgothai.relay.quota import QuotaStatus
from mailgothai.relay.spool import Envelope, Spool, Target
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles

log = logging.getLogger("mailgothai.relay")

POLL_SECONDS = 1.0  # how often SQL is asked for releases (one indexed query)
SWEEP_SECONDS = 60.0  # expiry and files no one holds
ORPHAN_SECONDS = 3600.0  # a file with no rows this old: its write never reached SQL
LISTENER = "quarantine"  # in the relay's log, where a listener's name goes


def new_id() -> str:
    """22 hex characters, as spool.new_queue_id (time first: ids sort by age)."""
    return f"{time.time_ns() // 1000:014x}{secrets.token_hex(4)}"


def _finite(value: float) -> float:
    """A number SQL and JSON keep (rspamd's own reject may come with no meaningful score)."""
    number = float(value)
    return number if math.isfinite(number) else 0.0


class Quarantine:
    def __init__(self, files: QuarantineFiles, index: QuarantineIndex, node: str,
                 mailbox_of: Callable[[str], str] | None = None) -> None:
        self.files, self.index, self.node = files, index, node
        # a local address -> the mailbox id holding it now ("" if none): a release is bound to
        # that mailbox, so a delivery that has to wait never reaches a later holder (delivery.py)
        self._mailbox_of = mailbox_of
        self._wake = asyncio.Event()
        self._swept = 0.0
        self._unmarked: set[str] = set()  # spooled by this process, not yet marked released
        self._elsewhere: set[int] = set()  # recipients asked for whose file is not here (logged once)

    # ---- keeping (the DATA hook, in a worker thread) --------------------------------
    def keep(self, envelope: Envelope, message: bytes, scan: Scan, domain: str, days: int,
             scopes: Mapping[str, str] | None = None) -> str:
        """Keep `message` for `envelope`'s targets (held) for `days`; its quarantine id.
        `scopes`: a target's address -> the hosted domain whose admins see its row (for an
        RCPT TO at an alias domain, the domain it stands for: relay/protection.py); a target
        not named there is its RCPT TO domain's. Durable when it returns (file fsynced, rows
        committed); raises OSError or StoreError otherwise, leaving nothing behind."""
        scopes = scopes or {}
        held_id = new_id()
        received = datetime.fromtimestamp(envelope.received_at or time.time(), UTC)
        held = Held(
            id=held_id, node=self.node, domain=domain.lower(), sender=envelope.sender[:320],
            subject=subject_of(message), score=_finite(scan.score),
            symbols={name[:100]: _finite(value) for name, value in scan.symbols.items()}, size=len(message),
            received_at=received, expires_at=received + timedelta(days=days),
            recipients=tuple(Recipient(0, t.address, t.original, t.local, domain=scopes.get(t.address, ""))
                             for t in envelope.targets),
        )
        self.files.write(held_id, message)
        try:
            self.index.add(held)
        except BaseException:
            self.files.remove(held_id)
            raise
        log_message("quarantined", queue_id=envelope.queue_id, quarantine_id=held_id, client=envelope.client,
                    sender=envelope.sender, size=len(message), score=held.score, domain=held.domain,
                    recipients=[t.address for t in envelope.targets])
        return held_id

    # ---- releasing (the relay's loop) -------------------------------------------------
    def wake(self) -> None:
        """Look now (SIGUSR1: `quarantine release` on this machine tells the relay)."""
        self._wake.set()

    def settle(self, spool: Spool) -> int:
        """At start, before the queue delivers: a release already in the spool (the relay
        died after spooling it, before marking it) is only marked. Blocking."""
        marked = 0
        for held, recipient in self.index.requested(self.node):
            if spool.msg_path(release_queue_id(held.id, recipient.id)).exists():
                marked += self.index.mark_released(recipient.id)
        if marked:
            log.info("quarantine: %d release(s) spooled before a stop, marked released", marked)
        return marked

    async def run(self, spool: Spool, queue: DeliveryQueue, quota: QuotaStatus) -> None:
        while True:
            try:
                await self.release(spool, queue, quota)
                if time.monotonic() - self._swept > SWEEP_SECONDS:
                    self._swept = time.monotonic()
                    await asyncio.to_thread(self.sweep)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - SQL down, a disk error: the relay goes on, tries again
                log.warning("quarantine: releasing or sweeping failed; trying again", exc_info=True)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass

    async def release(self, spool: Spool, queue: DeliveryQueue, quota: QuotaStatus) -> int:
        """Spools every release asked for on this node; returns how many."""
        released = 0
        for held, recipient in await asyncio.to_thread(self.index.requested, self.node):
            queue_id = release_queue_id(held.id, recipient.id)
            if queue_id in self._unmarked or await asyncio.to_thread(spool.msg_path(queue_id).exists):
                # spooled by an earlier pass that could not mark it: only marked, and queued
                if await asyncio.to_thread(self.index.mark_released, recipient.id):
                    queue.schedule(queue_id, 0.0)
                self._unmarked.discard(queue_id)
                continue
            spooled = await asyncio.to_thread(self._spool_one, spool, held, recipient)
            if spooled is None:
                continue
            envelope, message = spooled
            self._unmarked.add(queue_id)  # the queue may deliver it (a rescan) before it is marked
            if not await asyncio.to_thread(self.index.mark_released, recipient.id):
                self._unmarked.discard(queue_id)  # marked meanwhile (by another relay of this name?): not ours
                await asyncio.to_thread(spool.remove, queue_id)
                continue
            self._unmarked.discard(queue_id)
            quota.hold(envelope.queue_id, [t.address for t in envelope.targets if t.local], len(message))
            queue.submit(envelope, message)
            log_message("released", queue_id=envelope.queue_id, quarantine_id=held.id, sender=held.sender,
                        recipients=[recipient.address], size=len(message))
            released += 1
        return released

    def _spool_one(self, spool: Spool, held: Held, recipient: Recipient) -> tuple[Envelope, bytes] | None:
        message = self.files.read(held.id)
        if message is None:  # kept by another relay of the same name (each keeps its own files), or gone
            if recipient.id not in self._elsewhere:
                self._elsewhere.add(recipient.id)
                log.warning("quarantine %s: released for %s, but its file is not here (another relay of this "
                            "name keeps it, or it was removed)", held.id, recipient.address)
            return None
        mailbox = self._mailbox_of(recipient.address) if recipient.local and self._mailbox_of else ""
        target = Target(recipient.address, recipient.original, recipient.local, mailbox)
        envelope = Envelope(release_queue_id(held.id, recipient.id), held.sender, (target,), time.time(),
                            client=LISTENER)
        spool.store(envelope, message)
        return envelope, message

    # ---- expiry ---------------------------------------------------------------------
    def sweep(self, now: datetime | None = None) -> int:
        """Expired messages (rows and files) and files no recipient holds; how many files went."""
        now = now or datetime.now(UTC)
        removed = 0
        while expired := self.index.expired(self.node, now):
            self.index.forget(expired)  # rows first: a file without rows is removed below
            removed += sum(self.files.remove(i) for i in expired)
        on_disk = self.files.ids()
        if on_disk:
            waiting, known = self.index.waiting(on_disk), self.index.known(on_disk)
            for held_id in on_disk:
                if held_id in waiting:
                    continue
                if held_id not in known and not self._old(held_id, now):
                    continue  # its rows may be being written right now (keep: file first)
                removed += self.files.remove(held_id)
        for leftover in self.files.leftovers():
            if self._old_path(leftover.name, now):
                leftover.unlink(missing_ok=True)
        if removed:
            log.info("quarantine: %d file(s) removed (expired, or released and deleted)", removed)
        return removed

    def _old(self, held_id: str, now: datetime) -> bool:
        try:
            return now.timestamp() - os.stat(self.files.path(held_id)).st_mtime > ORPHAN_SECONDS
        except OSError:
            return False

    def _old_path(self, name: str, now: datetime) -> bool:
        try:
            return now.timestamp() - os.stat(self.files.root / name).st_mtime > ORPHAN_SECONDS
        except OSError:
            return False
