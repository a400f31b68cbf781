"""Keeps the default view of every large domain's accounts (by address) sorted in slapd.

A sorted listing costs one sort of the whole result set in slapd the first time
(0.2-1 s for the 40,000 accounts of the largest domain; under 50 ms below about 2,000),
and again after every change in the domain (see services/listing.py). Without help, a
domain admin's first click on its accounts, and the first one after each change, would
wait for that sort. The warmer, a thread of the web process, sorts the default view of
each domain with at least `min_accounts` accounts ahead of time and keeps that context
(SortedLister keep=True), shared by every admin of the domain — the largest such domains, as
many as the lister may keep (`SortedLister.max_kept`, within slapd's limit on sort contexts).

Every `interval` seconds a round reads the large domains' entries (one search) and their
newest audit ids (one query): a view whose domain changed is sorted again once the
domain has been quiet for one round (a burst of changes, e.g. an import, costs one sort,
not one per round), and every view is sorted again after `renew_after` seconds (changes
made outside the services leave no audit record), before a page would find it expired.
The same rounds keep each large domain's rows of the last-login table matched with its
accounts (services/last_login.py), so the listing sorted by last login never waits for that.
"""

from __future__ import annotations

import logging
import threading
import time

from mailgothai.core.models import Role
from mailgothai.directory.vlv import SortedLister
from mailgothai.errors import MailGoThaiError
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.last_login import LastLoginService
from mailgothai.services.listing import ListingService, stamp_of

log = logging.getLogger(__name__)
WARMER = Actor("listing-warmer", Role.SUPERADMIN, origin="web")


class ListingWarmer:
    def __init__(self, backends: Backends, lister: SortedLister, min_accounts: int = 2000,
                 interval: float = 5.0, rescan: float = 300.0, renew_after: float = 600.0,
                 domains: tuple[str, ...] | None = None) -> None:
        self.b = backends
        self.only = domains  # these domains, whatever their size; None: the largest (see _large_domains)
        self.lister = lister
        self.min_accounts = min_accounts
        self.interval = interval
        self.rescan = rescan
        self.renew_after = renew_after
        self._domains: list[str] = []
        self._scanned = -rescan
        self._seen: dict[str, object] = {}  # domain -> stamp seen in the last round
        self._warm: dict[str, tuple[object, float]] = {}  # domain -> (stamp sorted for, when)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _large_domains(self) -> list[str]:
        now = time.monotonic()
        if now - self._scanned >= self.rescan:
            self._scanned = now
            # the largest first, as many as the lister keeps (slapd holds a bounded number of
            # sort contexts): a domain past that pays its own sort at its first click
            qualifying = [d for d in self.b.domains.iter_all()
                          if (d.name in self.only if self.only is not None else d.account_count >= self.min_accounts)]
            qualifying.sort(key=lambda d: (-d.account_count, d.name))
            large = [d.name for d in qualifying[:self.lister.max_kept]]
            for gone in set(self._domains) - set(large):
                self.lister.release(self.b.layout.users(gone))
                self._seen.pop(gone, None)
                self._warm.pop(gone, None)
            self._domains = large
        return self._domains

    def run_once(self) -> int:
        """One round; returns how many views were sorted for a new stamp or renewed."""
        names = self._large_domains()
        if not names:
            return 0
        newest = self.b.audit.newest_ids(names)
        service = ListingService(self.b, WARMER, self.lister)
        logins = LastLoginService(self.b, WARMER) if self.b.logins is not None else None
        warmed = 0
        for domain in self.b.domains.read_many(names):
            if self._stop.is_set():
                break
            stamp = stamp_of(domain, newest.get(domain.name, 0))
            quiet = self._seen.get(domain.name, stamp) == stamp
            self._seen[domain.name] = stamp
            sorted_for, at = self._warm.get(domain.name, (None, 0.0))
            if quiet and (sorted_for != stamp or time.monotonic() - at >= self.renew_after):
                service.warm(domain, self.renew_after)
                self._warm[domain.name] = (stamp, time.monotonic())
                warmed += 1
            if quiet and logins is not None:  # the last-login listing's rows match the directory (issue 17)
                logins.ensure_synced(domain, full_after=self.renew_after)
        return warmed

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="listing-warmer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except MailGoThaiError as exc:  # slapd or SQL away for a moment: try again next round
                log.warning("keeping listings warm failed: %s", exc)
            except Exception:  # noqa: BLE001 - the warmer must survive a bad moment of any backend
                log.exception("keeping listings warm failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
