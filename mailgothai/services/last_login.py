"""Last logins (issue 17): recorded in batches by the processes that see logins, read in
batches by the pages, lists, exports and the inactive report.

Who records what:
- IMAP (and POP3): Dovecot reports every login result to the auth policy service
  (`mailgothai auth-policy run`, authpolicy/app.py); a success is a login, with the
  client's address Dovecot saw (`remote`). No Dovecot plugin, no write in Dovecot.
- SMTP AUTH: the relay (relay/auth.py), for each accepted AUTH (cached or bound).
- Web: a mail user's login to the self-service (services/auth.py). Administrators are not
  accounts: their logins are not recorded here.

A login never waits for a write: `LoginRecorder.record` only puts it in memory (the newest
per login); a thread writes the batch every `every` seconds, or sooner once `batch` logins
wait, and at shutdown: one directory search matches the batch's logins to their accounts
(mailbox id, address, domain) and one SQL transaction writes them. A process that crashes
loses the logins of its last `every` seconds at most (their accounts show the login before).
A login at an alias domain's name counts for the account at its target (Dovecot's passdb
and the relay report it under the target's name); a login that matches no live account
(deleted meanwhile) is not recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mailgothai.core.last_login import LastLogin, LoginEvent, Owner, from_ms, inactive_cutoff, protocol_name
from mailgothai.core.models import Account, Domain
from mailgothai.directory.login_owners import LoginOwners
from mailgothai.errors import MailGoThaiError, StoreError
from mailgothai.services import ports
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service

log = logging.getLogger(__name__)
MAX_PENDING = 100_000  # logins kept while the store or directory is away; beyond: the oldest dropped

Resolve = Callable[[Sequence[str]], dict[str, Owner]]


class LoginRecorder:
    """Buffers successful logins and writes them in batches (see the module's text)."""

    def __init__(self, times: ports.LoginTimes, resolve: Resolve, *, every: float = 5.0, batch: int = 500,
                 clock: Callable[[], float] = time.time) -> None:
        self._times = times
        self._resolve = resolve
        self.every = every
        self.batch = batch
        self._clock = clock
        self._pending: dict[str, LoginEvent] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, login: str, protocol: str, source: str) -> None:
        """A successful login: kept in memory only (no I/O)."""
        key = login.strip().lower()
        if "@" not in key:
            return
        event = LoginEvent(key, protocol_name(protocol), source.strip()[:64], int(self._clock() * 1000))
        with self._lock:
            self._pending[key] = event
            full = len(self._pending) >= self.batch
        if full:
            self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write what waits; returns how many accounts' rows changed. If the directory or
        the store fails, the logins wait for the next flush."""
        with self._flushing:
            with self._lock:
                taken, self._pending = self._pending, {}
            if not taken:
                return 0
            try:
                owners = self._resolve(list(taken))
                rows: dict[str, tuple[Owner, LastLogin]] = {}
                for key, event in taken.items():
                    owner = owners.get(key)
                    if owner is None:
                        continue
                    login = LastLogin(from_ms(event.seen_ms), event.protocol, event.source)
                    held = rows.get(owner.mailbox_id)
                    if held is None or held[1].seen_ms < login.seen_ms:
                        rows[owner.mailbox_id] = (owner, login)
                return self._times.record(rows) if rows else 0
            except MailGoThaiError as exc:
                log.warning("last logins not written yet (%d waiting): %s", len(taken), exc)
                with self._lock:
                    for key, event in taken.items():
                        newer = self._pending.get(key)
                        if newer is None or newer.seen_ms < event.seen_ms:
                            self._pending[key] = event
                    while len(self._pending) > MAX_PENDING:
                        self._pending.pop(next(iter(self._pending)))
                return 0

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="last-login-writer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must survive a bad moment of any backend
                log.exception("writing last logins failed")

    def stop(self) -> None:
        """Stop the thread and write what waits (at shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - shutting down: say so, do not hide the process's own exit
            log.exception("writing last logins at shutdown failed")


def recorder_for(backends: Backends, every: float = 5.0, batch: int = 500) -> LoginRecorder:
    """A recorder over the backends' store, matching logins as the backends' own directory identity."""
    owners = LoginOwners(backends.gateway, backends.layout)
    return LoginRecorder(times_of(backends), owners.resolve, every=every, batch=batch)


def times_of(backends: Backends) -> ports.LoginTimes:
    if backends.logins is None:
        raise StoreError("last logins: no SQL store in these backends")
    return backends.logins


@dataclass(frozen=True)
class Inactive:
    """An account of the inactive report; `last` None: never logged in."""

    address: str
    mailbox_id: str
    last: LastLogin | None


@dataclass(frozen=True)
class LoginPage:
    """A window of a domain's accounts sorted by last login."""

    items: tuple[Account, ...]
    offset: int
    total: int
    last: dict[str, LastLogin]  # address -> last login (absent: never)


def _stamp(backends: Backends, domain: Domain) -> str:
    from mailgothai.services.listing import account_stamp

    return ":".join(str(part) for part in account_stamp(backends, domain))


class LastLoginService(Service):
    def __init__(self, backends: Backends, actor: Actor) -> None:
        super().__init__(backends, actor)
        self.times = times_of(backends)

    def _domain(self, name: str) -> Domain:
        self.actor.require_domain(name)
        return self.b.domains.get(name.lower())  # read as the actor: slapd lets it in, or NotFound

    def of(self, account: Account) -> LastLogin | None:
        """An account's last login (the caller has read the account with the actor's rights)."""
        self.actor.require_domain(account.domain)
        if not account.mailbox_id:
            return None
        return self.times.of([account.mailbox_id]).get(account.mailbox_id)

    def of_many(self, accounts: Iterable[Account]) -> dict[str, LastLogin]:
        """The last logins of these accounts (one query), by address; accounts whose mailbox
        id was not read (bulk reads) are matched through the SQL rows' addresses."""
        wanted = [a for a in accounts if self.actor.may_manage(a.domain)]
        with_id = {a.mailbox_id: a.email for a in wanted if a.mailbox_id}
        found = self.times.of(list(with_id))
        out = {with_id[i]: last for i, last in found.items()}
        without = [a for a in wanted if not a.mailbox_id]
        if without:
            owners = LoginOwners(self.b.gateway, self.b.layout).resolve([a.email for a in without])
            ids = {o.mailbox_id: o.address for o in owners.values()}
            out.update({ids[i]: last for i, last in self.times.of(list(ids)).items()})
        return out

    def ensure_synced(self, domain: Domain, full_after: float | None = None) -> str:
        """Keep the domain's rows matched with its accounts in the directory. Nothing to do
        while the listings' stamp (counters, newest audit record) is the one matched
        ("current"). After a change that left the set of accounts alone (a password, a
        suspension, a quota: the rows still number the domain's accounts; a delete and a
        rename through the services keep the rows right themselves), only the stamp is
        noted ("stamp", ~5 ms for 40,000 accounts). Otherwise, or when the last full match
        is older than `full_after` seconds (the listing warmer's renewal), the domain's
        accounts are read and matched in full ("full", ~2.5 s for 40,000)."""
        stamp = _stamp(self.b, domain)
        held = self.times.synced(domain.name)
        if held is not None and (full_after is None
                                 or (datetime.now(UTC) - held[1]).total_seconds() < full_after):
            if held[0] == stamp:
                return "current"
            if self.times.count(domain.name) == domain.account_count:
                self.times.set_stamp(domain.name, stamp)
                return "stamp"
        owners = LoginOwners(self.b.gateway.as_application(), self.b.layout)  # the domain was read as the actor
        self.times.sync(domain.name, owners.of_domain(domain.name), stamp)
        return "full"

    def page(self, domain: str, *, descending: bool = False, search: str = "", offset: int = 0,
             size: int = 50) -> tuple[Domain, LoginPage]:
        """A window of the domain's accounts by last login, oldest first (never-logged-in
        first, by address), or newest first (the same reversed); `search`: the address's
        start. One SQL query for the window, one directory search for its accounts."""
        dom = self._domain(domain)
        self.ensure_synced(dom)
        prefix = search.strip().lower()
        # Without a search every account of the domain has its row (matched above): the
        # domain's own counter is the total, and the count of the rows is not needed.
        rows, total = self.times.page(dom.name, descending, prefix, offset, size, count=bool(prefix))
        if not prefix:
            total = dom.account_count
        found = LoginOwners(self.b.gateway.as_application(), self.b.layout).accounts(dom.name, [r[0] for r in rows])
        items, last = [], {}
        for mailbox_id, _address, login in rows:
            account = found.get(mailbox_id)
            if account is None:  # deleted outside the services since the last match: left out
                continue
            items.append(account)
            if login is not None:
                last[account.email] = login
        return dom, LoginPage(tuple(items), offset, total, last)

    def inactive(self, domain: str, days: int | str, now: datetime | None = None) -> tuple[Domain, list[Inactive]]:
        """The domain's accounts with no login in `days` days, never-logged-in first, then
        oldest first."""
        cutoff = inactive_cutoff(days, now or datetime.now(UTC))
        dom = self._domain(domain)
        self.ensure_synced(dom)
        return dom, [Inactive(address, mailbox_id, last)
                     for mailbox_id, address, last in self.times.inactive(dom.name, cutoff)]
