"""Quota usage: how much each mailbox holds, as Dovecot counts it, with the time of the
reading, and the totals per domain.

Readings are snapshots in SQL. A page shows the snapshots of its accounts (one query
for the page, never one Dovecot call per account); accounts whose snapshot is missing
or older than `quota_snapshot_ttl` are queued, and a background refresher reads them
from Dovecot in batches with ONE `doveadm quota get -F` per batch (about 1 ms per user
measured), then recomputes the domain totals the dashboard reads. A sweep also walks
every domain slowly, so totals cover accounts nobody looked at: it re-reads readings
older than SWEEP_TTL (6 h), not the pages' 15 minutes, since every reading costs Dovecot
a userdb lookup in slapd (207,074 accounts every 15 minutes would be 230 lookups a
second, for ever). `mailgothai usage refresh` reads a domain, or all, at once.

Why snapshots + doveadm batches rather than Dovecot's quota_clone plugin: quota_clone
would need Dovecot's dict process to write into the project's SQL store (its own
credentials, a second writer, dovecot-sqlite/-pgsql), and copies only users whose
usage changes after it is enabled; doveadm reads what Dovecot counts now, for any user,
with the same configuration file the stack already writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.models import Role
from mailgothai.errors import MailGoThaiError, MailStoreError
from mailgothai.services.actor import Actor
from mailgothai.services.auth import Clock, utcnow
from mailgothai.services.backends import Backends
from mailgothai.store.usage import DomainTotal, Reading, SnapshotStore

__all__ = ["DomainTotal", "Reading", "Refreshed", "SnapshotStore", "UsageRefresher", "UsageService"]

log = logging.getLogger(__name__)
BATCH = 500
SWEEP_TTL = 6 * 3600


@dataclass(frozen=True)
class Refreshed:
    domains: int
    accounts: int  # listed in the directory
    read: int  # readings stored (Dovecot knows the user)
    doveadm_calls: int


class UsageRefresher:
    """Reads usage from Dovecot in the background: queued accounts first, then a slow
    sweep of every domain. One per web process; `run_once` does one step (tests, CLI)."""

    def __init__(self, backends: Backends, ttl: int, clock: Clock = utcnow, sweep: bool = True,
                 batch: int = BATCH) -> None:
        self.b = backends
        self.snapshots = backends.snapshots
        self.ttl = timedelta(seconds=ttl)
        self.sweep_ttl = timedelta(seconds=max(ttl, SWEEP_TTL))
        self.batch = batch
        self._clock = clock
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sweep = sweep
        self._sweep_domains: deque[str] = deque()
        self._sweep_pending: deque[str] = deque()  # stale accounts of the domain being swept

    def enqueue(self, emails: Iterable[str]) -> None:
        with self._lock:
            for email in emails:
                if email not in self._queued and len(self._queue) < 100_000:
                    self._queued.add(email)
                    self._queue.append(email)
        self._wake.set()

    def stale(self, emails: Sequence[str], readings: dict[str, Reading],
              ttl: timedelta | None = None) -> list[str]:
        limit = self._clock() - (ttl or self.ttl)
        return [e for e in emails if e not in readings or readings[e].read_at < limit]

    def read_now(self, emails: Sequence[str]) -> dict[str, int]:
        """Read these accounts from Dovecot at once (one doveadm call) and store the readings."""
        if not emails or not self.b.doveadm.available:
            return {}
        used = self.b.doveadm.quota_many(emails)
        self.snapshots.write(used, {e: split_address(e)[1] for e in used}, self._clock())
        return used

    def read_domain(self, domain: str) -> tuple[int, int, int]:
        """Read every account of a domain now, a batch (one doveadm call) at a time.
        Returns (accounts, readings stored, doveadm calls)."""
        listed = read = calls = 0
        batch: list[str] = []
        for account in self.b.accounts.iter_domain(domain):
            batch.append(account.email)
            if len(batch) == self.batch:
                listed, read, calls = listed + len(batch), read + len(self.read_now(batch)), calls + 1
                batch = []
        if batch:
            listed, read, calls = listed + len(batch), read + len(self.read_now(batch)), calls + 1
        return listed, read, calls

    def run_once(self) -> int:
        """One batch: queued accounts, or else the next piece of the sweep. Returns how many were read."""
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
            self._queued.difference_update(batch)
        if not batch and self._sweep:
            batch = self._sweep_batch()
        if not batch:
            return 0
        try:
            return len(self.read_now(batch))
        except MailGoThaiError as exc:
            log.warning("reading quota usage from Dovecot failed: %s", exc)
            return 0

    def _sweep_batch(self) -> list[str]:
        """The next accounts of the sweep whose readings are stale, a domain at a time. A
        domain's accounts are listed once per sweep and handed out a batch at a time (not
        listed again for every batch: 80 listings of 40,000 accounts for the largest)."""
        if not self._sweep_pending:
            if not self._sweep_domains:
                self._sweep_domains.extend(d.name for d in self.b.domains.iter_all())
                if not self._sweep_domains:
                    return []
            self._sweep_pending.extend(self._stale_accounts(self._sweep_domains.popleft()))
        return [self._sweep_pending.popleft() for _ in range(min(self.batch, len(self._sweep_pending)))]

    def _stale_accounts(self, domain: str) -> list[str]:
        stale: list[str] = []
        chunk: list[str] = []
        for account in self.b.accounts.iter_domain(domain):
            chunk.append(account.email)
            if len(chunk) == self.batch:
                stale.extend(self.stale(chunk, self.snapshots.readings(chunk), self.sweep_ttl))
                chunk = []
        if chunk:
            stale.extend(self.stale(chunk, self.snapshots.readings(chunk), self.sweep_ttl))
        return stale

    # ---- the background thread --------------------------------------------------
    def start(self, pause: float = 1.0) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, args=(pause,), name="usage-refresher", daemon=True)
        self._thread.start()

    def _loop(self, pause: float) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # noqa: BLE001 - the refresher must survive a bad moment of any backend
                log.exception("quota usage refresher step failed")
                done = 0
            with self._lock:
                pending = bool(self._queue)
            if not pending:
                self._wake.wait(timeout=pause if done else pause * 30)
                self._wake.clear()
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class UsageService:
    """Usage as an actor may see it: its domains' accounts and totals only."""

    def __init__(self, backends: Backends, actor: Actor, refresher: UsageRefresher) -> None:
        self.b = backends
        self.actor = actor
        self.refresher = refresher

    def for_accounts(self, emails: Sequence[str]) -> dict[str, Reading]:
        """Readings for accounts already listed to this actor; stale ones are queued."""
        for email in emails:
            self.actor.require_domain(split_address(email)[1])
        readings = self.refresher.snapshots.readings(emails)
        stale = self.refresher.stale(emails, readings)
        if stale:
            self.refresher.enqueue(stale)
        return readings

    def domain_totals(self, domains: Sequence[str]) -> dict[str, DomainTotal]:
        for domain in domains:
            self.actor.require_domain(domain)
        return self.refresher.snapshots.totals(domains)

    def all_totals(self) -> dict[str, DomainTotal]:
        """Every domain the actor may see (an operator: all, one query)."""
        if self.actor.role is Role.SUPERADMIN:
            return self.refresher.snapshots.totals(None)
        return self.refresher.snapshots.totals(sorted(self.actor.domains))

    def refresh(self, domain: str | None = None) -> Refreshed:
        """Read the usage of every account of a domain (None: of every domain the actor
        may see) from Dovecot now, one doveadm call per batch, and store the readings and
        domain totals. For `mailgothai usage refresh` (e.g. from a timer)."""
        if domain is not None:
            domain = normalize_domain(domain)
            self.actor.require_domain(domain)
            names = [self.b.domains.get(domain).name]
        elif self.actor.role is Role.SUPERADMIN:
            names = [d.name for d in self.b.domains.iter_all()]
        else:
            names = sorted(self.actor.domains)
        if not self.b.doveadm.available:
            raise MailStoreError(f"doveadm cannot be run with {self.b.settings.dovecot_config}")
        accounts = read = calls = 0
        for name in names:
            listed, stored, batches = self.refresher.read_domain(name)
            accounts, read, calls = accounts + listed, read + stored, calls + batches
        return Refreshed(len(names), accounts, read, calls)

    def refresh_domain(self, domain: str) -> int:
        """Queue every account of a domain for a fresh reading; returns how many."""
        self.actor.require_domain(domain)
        self.b.domains.get(domain)
        emails = [a.email for a in self.b.accounts.iter_domain(domain)]
        self.refresher.enqueue(emails)
        return len(emails)

    def account_now(self, email: str) -> Reading | None:
        """A fresh reading of one account (its own page), stored as a snapshot."""
        email = normalize_address(email)
        self.actor.require_domain(split_address(email)[1])
        self.b.accounts.get(email)
        try:
            self.refresher.read_now([email])
        except MailGoThaiError as exc:
            log.warning("reading quota usage of %s failed: %s", email, exc)
        return self.refresher.snapshots.readings([email]).get(email)
