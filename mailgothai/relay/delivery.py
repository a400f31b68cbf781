"""Delivery workers: take due messages from the spool, deliver local targets over LMTP
and remote ones over SMTP, retry temporary failures with exponential backoff, and
bounce (one DSN per attempt that failed recipients for good) — never for a bounce, and
for mail accepted without authentication only to a sender hosted here (no backscatter)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailgothai.core.dsn import FailedRecipient, build_dsn
from mailgothai.core.policy import POSTMASTER, may_bounce, retry_delay
from mailgothai.errors import DirectoryError
from mailgothai.relay.lmtp import LmtpError, LmtpPool, LmtpReply
from mailgothai.relay.remote import RemoteSender
from mailgothai.relay.spool import HELD_FOR_POSTMASTER, DeliveryState, Envelope, Spool, Target, new_queue_id

log = logging.getLogger("mailgothai.relay")
FRESH_BYTES = 64 * 1024 * 1024  # messages kept in memory for their first attempt
# A local target's mailbox is looked up again by its id before delivery once its message
# is this old (seconds): by then its address may have changed hands (see _deliver_local).
# Shorter than the relay's own lookup cache (relay_lookup_cache_ttl, 10 s), whose answers
# decide at RCPT; a queue that lags under load does not pay a lookup per message for it.
RECHECK_AFTER = 5.0
msglog = logging.getLogger("mailgothai.relay.messages")


@dataclass(frozen=True)
class Outcome:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(frozen=True)
class QueuePolicy:
    retry_base: int
    retry_max: int
    lifetime: int
    workers: int
    hostname: str


def log_message(event: str, **fields: object) -> None:
    """One structured (JSON) line per message event."""
    msglog.info(json.dumps({"event": event, "at": round(time.time(), 3), **fields}, ensure_ascii=False))


class Journal:
    """One attempt's records in the message's journal (`Spool.record_*`), written in the
    event loop the moment each thing happens. A record that cannot be written is logged:
    at worst a recipient is delivered again after a kill, never lost."""

    def __init__(self, spool: Spool, queue_id: str) -> None:
        self._spool, self._queue_id = spool, queue_id
        self.written = False

    def handed(self, addresses: list[str]) -> None:
        self._write(self._spool.record_handed, addresses)

    def delivered(self, addresses: list[str]) -> None:
        self._write(self._spool.record_delivered, addresses)

    def refused(self, addresses: list[str]) -> None:
        self._write(self._spool.record_refused, addresses)

    def discard(self) -> None:
        """The message is gone: its journal too (a kill before this leaves it to `recover`)."""
        if self.written:
            self._spool.done_path(self._queue_id).unlink(missing_ok=True)

    def _write(self, record: Callable[[str, list[str]], None], addresses: list[str]) -> None:
        if not addresses:
            return
        try:
            record(self._queue_id, addresses)
            self.written = True
        except OSError as exc:
            log.warning("could not write the journal of %s (%s): %s", self._queue_id, addresses, exc)


class DeliveryQueue:
    def __init__(self, spool: Spool, lmtp: LmtpPool, remote: RemoteSender, policy: QueuePolicy,
                 route_sender: Callable[[str], Awaitable[tuple[Target, ...]]], smarthost: bool,
                 local_attempt_over: Callable[[str, list[str]], None] | None = None,
                 mailbox_address: Callable[[str], Awaitable[str | None]] | None = None) -> None:
        self._spool = spool
        self._mailbox_address = mailbox_address  # mailbox id -> its address now (None: gone)
        self._local_attempt_over = local_attempt_over  # (queue id, addresses): see QuotaStatus.settle
        self._lmtp = lmtp
        self._remote = remote
        self._policy = policy
        self._route_sender = route_sender
        self._smarthost = smarthost
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._when: dict[str, float] = {}  # queue id -> when it is due
        self._running: set[str] = set()
        self._fresh: dict[str, tuple[Envelope, bytes]] = {}
        self._fresh_bytes = 0
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(policy.workers)
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivered = 0  # recipients; these three are read by relay/metrics.py
        self.deferred = 0
        self.bounced = 0

    # ---- scheduling ------------------------------------------------------------
    def schedule(self, queue_id: str, when: float) -> None:
        """(Re)schedule a message; the heap may hold stale entries, skipped when popped."""
        if queue_id in self._running:
            return  # the attempt in flight schedules what follows
        self._when[queue_id] = when
        heapq.heappush(self._heap, (when, next(self._seq), queue_id))
        self._wake.set()

    def submit(self, envelope: Envelope, message: bytes) -> None:
        """A message just stored (fsynced): deliver now, from memory while the messages
        waiting for a first attempt stay within FRESH_BYTES (else from the spool)."""
        if self._fresh_bytes + len(message) <= FRESH_BYTES:
            self._fresh[envelope.queue_id] = (envelope, message)
            self._fresh_bytes += len(message)
        self.schedule(envelope.queue_id, 0.0)

    async def recover(self) -> int:
        """Schedule everything on disk (after a restart or a kill). Recipients that were in
        flight when the relay stopped are delivered again, and logged (`in-doubt`): their
        destination may have stored a copy already."""
        ids = await asyncio.to_thread(self._spool.recover)
        for queue_id in ids:
            state = await asyncio.to_thread(self._spool.state, queue_id)
            in_doubt = await asyncio.to_thread(self._spool.in_flight, queue_id)
            if in_doubt:
                log_message("in-doubt", queue_id=queue_id, recipients=in_doubt)
            self.schedule(queue_id, state.next_try)
        return len(ids)

    async def rescan(self) -> None:
        """Pick up what `mailgothai queue retry|delete` changed on disk."""
        ids = set(await asyncio.to_thread(lambda: list(self._spool.iter_ids())))
        for queue_id in list(self._when):
            if queue_id not in ids:
                del self._when[queue_id]
        for queue_id in ids:
            state = await asyncio.to_thread(self._spool.state, queue_id)
            if self._when.get(queue_id) != state.next_try:
                self.schedule(queue_id, state.next_try)

    @property
    def pending(self) -> int:
        return len(self._when) + len(self._running)

    def oldest_id(self) -> str | None:
        """The queue id of the oldest message waiting or in flight (ids sort by time)."""
        return min((*self._when, *self._running), default=None)

    async def run(self) -> None:
        while True:
            now = time.time()
            if self._heap and self._heap[0][0] <= now:
                when, _, queue_id = heapq.heappop(self._heap)
                if self._when.get(queue_id) != when:
                    continue  # superseded
                del self._when[queue_id]
                self._running.add(queue_id)
                await self._slots.acquire()
                task = asyncio.create_task(self._attempt_guarded(queue_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                continue
            self._wake.clear()
            timeout = min(self._heap[0][0] - now, 5.0) if self._heap else 5.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _attempt_guarded(self, queue_id: str) -> None:
        try:
            next_try = await self.attempt(queue_id)
        except Exception:  # a bug or a disk error must not stop the queue: try again later
            log.exception("delivery attempt of %s failed", queue_id)
            next_try = time.time() + self._policy.retry_base
        finally:
            self._slots.release()
            self._running.discard(queue_id)
        if next_try is not None:
            self.schedule(queue_id, next_try)

    # ---- one attempt -------------------------------------------------------------
    async def attempt(self, queue_id: str) -> float | None:
        """Try every pending target once. Returns when to try again, or None when done."""
        fresh = self._fresh.pop(queue_id, None)
        if fresh is not None:
            self._fresh_bytes -= len(fresh[1])
        try:
            envelope, message = fresh if fresh is not None else await asyncio.to_thread(self._spool.load, queue_id)
        except FileNotFoundError:
            return None  # deleted meanwhile (`queue delete`)
        state = DeliveryState() if fresh else await asyncio.to_thread(self._spool.state, queue_id)
        pending = [t for t in envelope.targets if t.address not in state.done and t.address not in state.failed]
        if not pending:  # everything was delivered before a restart: only the files are left
            await asyncio.to_thread(self._spool.remove, queue_id)
            return None
        started = time.time()
        outstanding = {t.address for t in pending}
        progress_files = fresh is None  # .done/.state files may exist (or will)
        journal = Journal(self._spool, queue_id)

        def delivered(addresses: list[str]) -> None:
            """Each success is recorded the moment it is known. A fresh message whose
            every target has now been delivered is simply unlinked (then its journal,
            which holds only hand-overs): nothing is left to deliver again."""
            nonlocal progress_files
            if not addresses:
                return
            outstanding.difference_update(addresses)
            if not progress_files and not outstanding:
                try:
                    self._spool.msg_path(queue_id).unlink(missing_ok=True)
                    journal.discard()
                    return
                except OSError as exc:
                    log.warning("could not remove delivered %s: %s", queue_id, exc)
            progress_files = True
            journal.delivered(addresses)

        recheck = fresh is None or started - envelope.received_at >= RECHECK_AFTER
        outcomes = await self._deliver(queue_id, envelope, message, pending, delivered, journal, recheck)
        now = time.time()
        state.attempts += 1
        expired = now - envelope.received_at >= self._policy.lifetime
        failed: list[FailedRecipient] = []
        for target in pending:
            outcome = outcomes[target.address]
            if outcome.code < 400:
                state.done.append(target.address)
                state.last_error.pop(target.address, None)
            elif outcome.code >= 500 or expired:
                state.failed[target.address] = str(outcome)
                state.last_error.pop(target.address, None)
                failed.append(FailedRecipient(target.original, target.address, str(outcome),
                                              expired=outcome.code < 500))
                self.bounced += 1
            else:
                state.last_error[target.address] = str(outcome)
                self.deferred += 1
        if failed and may_bounce(envelope.sender, envelope.is_bounce):
            await self._bounce(envelope, message, failed, now)
        remaining = [t for t in envelope.targets if t.address not in state.done and t.address not in state.failed]
        result = "delivered" if not remaining and not state.failed else ("deferred" if remaining else "done")
        log_message("attempt", queue_id=queue_id, sender=envelope.sender, result=result,
                    recipients={t.address: str(outcomes[t.address]) for t in pending},
                    attempt=state.attempts, ms=round((now - started) * 1000, 1),
                    age_s=round(now - envelope.received_at, 3))
        self.delivered += sum(1 for t in pending if outcomes[t.address].code < 400)
        if not remaining:
            if progress_files or state.failed:
                await asyncio.to_thread(self._spool.remove, queue_id)
            return None
        state.next_try = now + retry_delay(state.attempts, self._policy.retry_base, self._policy.retry_max)
        await asyncio.to_thread(self._spool.save_state, queue_id, state)
        return state.next_try

    async def _deliver(self, queue_id: str, envelope: Envelope, message: bytes, pending: list[Target],
                       delivered: Callable[[list[str]], None], journal: Journal,
                       recheck: bool = True) -> dict[str, Outcome]:
        """Every pending target once; each success goes to `delivered` the moment it is
        known (recorded in the spool), so a kill afterwards does not deliver it again —
        the duplicate window is the time between the destination storing the message
        and the relay reading its reply, and the journal shows who is in it."""
        groups: dict[str, list[str]] = {}
        local = [t for t in pending if t.local]
        held = [t for t in pending if t.address == HELD_FOR_POSTMASTER]
        for t in pending:
            if not t.local and t.address != HELD_FOR_POSTMASTER:
                key = "smarthost" if self._smarthost else t.address.rpartition("@")[2]
                groups.setdefault(key, []).append(t.address)
        jobs = []
        if held:
            jobs.append(self._hand_to_postmaster(envelope, message, held[0], delivered))
        if local:
            jobs.append(self._deliver_local(queue_id, envelope.sender, local, message, delivered, journal, recheck))
        jobs.extend(self._deliver_remote(envelope.sender, rcpts, message, delivered, journal)
                    for rcpts in groups.values())
        outcomes: dict[str, Outcome] = {}
        for part in await asyncio.gather(*jobs):
            outcomes.update(part)
        return outcomes

    async def _hand_to_postmaster(self, envelope: Envelope, message: bytes, held: Target,
                                  delivered: Callable[[list[str]], None]) -> dict[str, Outcome]:
        """Postmaster mail accepted while no postmaster address was set (routing.py): once
        one is, the message is queued anew for it (stored before this target counts as
        done: a kill in between can only hand it on twice), else it waits, and its sender
        gets a bounce at the end of the queue's lifetime."""
        targets = await self._route_sender(POSTMASTER)
        if not targets or any(t.address == HELD_FOR_POSTMASTER for t in targets):
            return {held.address: Outcome(451, "4.3.0 no postmaster address is set yet (relay_postmaster); "
                                               "kept in the queue")}
        retargeted = tuple(Target(t.address, held.original, t.local, t.mailbox) for t in targets)
        handed = Envelope(new_queue_id(), envelope.sender, retargeted, time.time(), auth_user=envelope.auth_user,
                          client=envelope.client, sender_verified=envelope.sender_verified)
        await asyncio.to_thread(self._spool.store, handed, message)
        log_message("postmaster-handed", queue_id=envelope.queue_id, new_queue_id=handed.queue_id,
                    recipients=[t.address for t in targets])
        self.submit(handed, message)
        delivered([held.address])
        return {held.address: Outcome(250, f"2.0.0 queued for the postmaster address as {handed.queue_id}")}

    async def _deliver_local(self, queue_id: str, sender: str, targets: list[Target], message: bytes,
                             delivered: Callable[[list[str]], None], journal: Journal,
                             recheck: bool) -> dict[str, Outcome]:
        """One LMTP transaction per recipient, up to `relay_lmtp_connections` at once: each
        recipient's 250 is recorded before its connection takes the next recipient, so a
        kill can catch at most one delivery per connection unrecorded (Dovecot answers a
        transaction's recipients only after storing them all: several recipients in one
        transaction would all be delivered again).

        Mail belongs to the account it was accepted for, never to the address: a message
        that waited (`recheck`: from the spool, or older than RECHECK_AFTER) goes to where
        its target's mailbox is now — its new address after a rename, a 550 bounce once
        the account is deleted — never to whoever holds the old address since. A first
        attempt straight after acceptance delivers as routed at RCPT."""
        rcpts = [t.address for t in targets]

        def replied(target: Target, reply: LmtpReply) -> None:
            if reply.code // 100 == 2:
                delivered([target.address])
            else:
                journal.refused([target.address])

        async def one(target: Target) -> Outcome:
            rcpt = target.address
            if recheck and target.mailbox and self._mailbox_address is not None:
                try:
                    now_at = await self._mailbox_address(target.mailbox)
                except DirectoryError as exc:
                    return Outcome(451, f"4.4.3 the mailbox could not be looked up: {exc}")
                if now_at is None:
                    journal.refused([target.address])
                    log_message("mailbox-gone", queue_id=queue_id, recipient=target.address, mailbox=target.mailbox)
                    return Outcome(550, "5.1.1 the mailbox this message was accepted for no longer exists")
                if now_at != rcpt:
                    log_message("mailbox-moved", queue_id=queue_id, recipient=target.address, now=now_at,
                                mailbox=target.mailbox)
                    rcpt = now_at
            try:
                replies = await self._lmtp.deliver(sender, [rcpt], message,
                                                   on_data=lambda _: journal.handed([target.address]),
                                                   on_reply=lambda _, reply: replied(target, reply))
            except LmtpError as exc:
                return Outcome(451, f"4.4.1 {exc}")
            return Outcome(replies[rcpt].code, replies[rcpt].text)

        try:
            outcomes = await asyncio.gather(*(one(t) for t in targets))
        finally:
            if self._local_attempt_over is not None:
                self._local_attempt_over(queue_id, rcpts)
        return dict(zip(rcpts, outcomes, strict=True))

    async def _deliver_remote(self, sender: str, rcpts: list[str], message: bytes,
                              delivered: Callable[[list[str]], None], journal: Journal) -> dict[str, Outcome]:
        journal.handed(rcpts)
        replies = await self._remote.deliver(sender, rcpts, message)
        delivered([r for r in rcpts if replies[r].code < 400])
        journal.refused([r for r in rcpts if replies[r].code >= 400])
        return {r: Outcome(replies[r].code, replies[r].text) for r in rcpts}

    async def _bounce(self, envelope: Envelope, message: bytes, failed: list[FailedRecipient], now: float) -> None:
        targets = await self._route_sender(envelope.sender)
        # authenticated here, or from outside with its domain vouching for it (SPF, DKIM, DMARC)
        vouched = bool(envelope.auth_user) or envelope.sender_verified
        if not vouched:  # from outside, unproven: to the sender's mailbox here, if it has one, never out
            targets = tuple(t for t in targets if t.local)
        if not may_bounce(envelope.sender, envelope.is_bounce, authenticated=vouched,
                          sender_hosted=bool(targets)):
            log_message("bounce-dropped", queue_id=envelope.queue_id, sender=envelope.sender,
                        recipients=[f.final for f in failed],
                        reason="accepted without authentication from a sender not hosted here whose domain "
                               "did not vouch for it: no DSN (backscatter)")
            return
        if not targets:
            log_message("bounce-dropped", queue_id=envelope.queue_id, sender=envelope.sender,
                        reason="the sender cannot be reached")
            return
        dsn = build_dsn(reporting_mta=self._policy.hostname, sender=envelope.sender, queue_id=envelope.queue_id,
                        arrival=envelope.received_at, now=now, original=message, failed=failed)
        bounce = Envelope(new_queue_id(), "", targets, now, is_bounce=True)
        await asyncio.to_thread(self._spool.store, bounce, dsn)
        log_message("bounce", queue_id=envelope.queue_id, dsn_queue_id=bounce.queue_id, sender=envelope.sender,
                    recipients=[f.final for f in failed])
        self.submit(bounce, dsn)

    async def drain(self) -> None:
        """Wait for attempts in flight (used at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
