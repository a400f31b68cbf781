"""Applying a validated import job: the rows planned, in file order, resumable after a kill.

Per chunk of rows: generated passwords go to the journal (fsynced), the rows are marked
``inflight`` (committed), the new accounts are written to the directory in one LDAP
transaction (the rest, and all of them if slapd refuses it, one at a time by a few
threads), then each row's outcome is committed together with its audit record. Plain passwords
are hashed (argon2id) by a process pool over all cores, a few chunks ahead of the
directory writes, so hashing and writing overlap.

Domain counters: room for all the creates still to apply in a domain is reserved with
one compare-and-swap before the first write (the rows then marked ``reserved``; a domain
that no longer fits books row by row), and given back for a row that then fails, once its
outcome is committed. After a crash, `recover` settles the ``inflight`` rows by looking at
the directory (an entry that is there, as planned, was written: its audit record is
written now, once) and gives back, with compare-and-swap, exactly the room its rows say it
booked and did not use (``reserved`` creates, and ``inflight`` ones not written); a failed
apply does the same (`release`). It never recounts: another running job's bookings stay
(a recount is the operator's `domain recount`). A booking is made before the rows say so
and given back after they no longer do, so a kill in between leaves a domain counting at
most one chunk too many, never too few.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mailgothai.core.csvimport import PasswordKind, apply_changes, stored_or_plain
from mailgothai.core.csvimport.hashing import hash_many
from mailgothai.core.limits import check_account_fits, check_quota_change
from mailgothai.core.models import Account, Status
from mailgothai.core.password_lifecycle import Lifecycle
from mailgothai.core.password_policy import generate_for
from mailgothai.core.reasons import Term, Why
from mailgothai.directory.holders import holders_of, in_use
from mailgothai.errors import AlreadyExists, DirectoryUnreachable, LimitExceeded, NotFound, TransactionRefused
from mailgothai.services.backends import Backends
from mailgothai.services.base import snapshot
from mailgothai.services.domain_routing import login_names
from mailgothai.services.import_files import PasswordCells, PasswordJournal
from mailgothai.services.password_lifecycle import lifecycle_for
from mailgothai.services.password_policy import person_of, policy_for
from mailgothai.store.jobs import JobStore, Outcome, RowRecord, RowState

CHUNK = 256
HASHING_CHUNK = 64  # while passwords are hashed: the writes after the last hash are few
WRITE_ATTEMPTS = 5  # a write that got no answer (timeout, reset) is checked and tried again
RETRY_PAUSE_S = 1.0
HASHES_PER_TASK = 8
PREFETCH_CHUNKS = 8


def account_to_json(account: Account) -> dict[str, Any]:
    """The same dict as the audit log's snapshot(), built directly (207,074 times per import)."""
    return {"email": account.email, "domain": account.domain, "quota": account.quota,
            "status": account.status.value, "given_name": account.given_name, "surname": account.surname,
            "display_name": account.display_name, "aliases": list(account.aliases),
            "forwards": list(account.forwards)}


def account_from_json(data: dict[str, Any]) -> Account:
    return Account(
        email=data["email"], domain=data["domain"], quota=int(data["quota"]), status=Status(data["status"]),
        given_name=data["given_name"], surname=data["surname"], display_name=data["display_name"],
        aliases=tuple(data["aliases"]), forwards=tuple(data["forwards"]),
    )


def changes_to_json(changes: dict[str, object]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in changes.items():
        out[key] = value.value if isinstance(value, Status) else list(value) if isinstance(value, tuple) else value
    return out


def changes_from_json(data: dict[str, Any]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        out[key] = Status(value) if key == "status" else tuple(value) if isinstance(value, list) else value
    return out


@dataclass
class Item:
    record: RowRecord
    account: Account | None = None  # creates
    password_hash: str | None = None
    generated: str | None = None
    hash_future: tuple[Future[list[str]], int] | None = None  # (task, index in it)
    unanswered: bool = False  # written in a transaction that got no answer: it may be there
    written: tuple[Account, Account] | None = None  # an update's (before, after), once saved


@dataclass
class Stats:
    done: int = 0
    started: float = field(default_factory=time.monotonic)


class Applier:
    def __init__(self, backends: Backends, jobs: JobStore, job_id: int, *, actor: str, origin: str,
                 journal: PasswordJournal, on_chunk: Callable[[int], None] | None = None,
                 writers: int = 4, hash_workers: int | None = None, must_change: bool = False) -> None:
        self.b = backends
        self.must_change = must_change  # the job's "change at next login" (issue 20)
        self._lifecycles: dict[str, Lifecycle] = {}  # each domain's, read once per job
        self.jobs = jobs
        self.job_id = job_id
        self.actor = actor
        self.origin = origin
        self.journal = journal
        self.on_chunk = on_chunk or (lambda n: None)
        self.writers = writers
        self.hash_workers = hash_workers or os.cpu_count() or 1
        self._per_row: set[str] = set()  # domains whose bulk reservation failed: reserve row by row
        self._pool: ProcessPoolExecutor | None = None

    def _lifecycle(self, domain: str) -> Lifecycle:
        if domain not in self._lifecycles:
            self._lifecycles[domain] = lifecycle_for(self.b, domain)
        return self._lifecycles[domain]

    # ---- audit -----------------------------------------------------------------
    def _audit(self, action: str, account: Account, before: Account | None = None) -> dict[str, Any]:
        return {"actor": self.actor, "origin": self.origin, "action": action, "object_type": "account",
                "object_id": account.email, "domain": account.domain,
                "before": snapshot(before) if before is not None else None,
                "after": snapshot(account) if action != "account.delete" else None}

    def _update_audit(self, before: Account, after: Account) -> list[dict[str, Any]]:
        """As the account service records it: a change of status is account.suspend or
        account.activate (set_status), the other fields account.update (update), in that
        order when a row changes both."""
        if after.status is before.status:
            return [self._audit("account.update", after, before)]
        out = []
        fields = dataclasses.replace(after, status=before.status)
        if fields != before:
            out.append(self._audit("account.update", fields, before))
            before = fields
        action = "account.activate" if after.status is Status.ACTIVE else "account.suspend"
        return out + [self._audit(action, after, before)]

    def _sessions_end(self, emails: list[str], written: list[tuple[Account, Account]]) -> None:
        """After updates were written: Dovecot's cache forgets every login name of each
        (its alias domains' too, for those whose (before, after) is known: all the updates
        written here); a newly suspended account's open IMAP and ManageSieve sessions end,
        as AccountService.set_status does."""
        known = {after.email for _, after in written}
        names = login_names(self.b, sorted(known)) if known else []
        names += [e for e in emails if e not in known]
        if names:
            self.b.doveadm.flush_auth_cache(names)
        stopped = [after.email for before, after in written
                   if after.status is not Status.ACTIVE and after.status is not before.status]
        if stopped:
            self.b.end_sessions(stopped)

    # ---- after a crash, or a failure ------------------------------------------
    # What the job has booked in its domains' counters is in its rows' states: RESERVED and
    # INFLIGHT creates (each booked once, by reserve() or row by row in _write). A booking
    # is made before the rows say so and given back after they no longer do: a kill in
    # between leaves a domain counting one chunk too many at worst, never too few.
    def recover(self) -> None:
        """Settle the rows a crash left in flight, by looking at the directory, and give
        back exactly what the job booked and did not use (compare-and-swap: another job's
        bookings stay); reserve() books again what the job still needs."""
        self._settle()
        self._give_back_reserved()

    def release(self) -> None:
        """After a failed apply: the same, so that a job that fails (and perhaps is never
        resumed) holds no room in its domains; its rows say what was written."""
        self.recover()

    def _settle(self) -> None:
        outcomes: list[Outcome] = []
        back: dict[RowState, list[int]] = {RowState.PLANNED: [], RowState.RESERVED: []}
        settled: list[tuple[Account, Account]] = []  # updates found written
        for record in self.jobs.iter_rows(self.job_id, (RowState.INFLIGHT,)):
            current = self.b.accounts.find(record.email)
            if record.action == "create":
                planned = account_from_json(record.data["account"])
                if current is None:
                    back[RowState.RESERVED].append(record.row)  # still booked, not written
                elif current == planned:
                    outcomes.append(Outcome(record.row, RowState.APPLIED, audit=self._audit("account.create", planned)))
                else:
                    outcomes.append(Outcome(record.row, RowState.FAILED, "email",
                                            Why.CREATED_MEANWHILE(address=record.email)))
            else:
                after = account_from_json(record.data["after"])
                if current == after:
                    before = account_from_json(record.data["before"])
                    outcomes.append(Outcome(record.row, RowState.APPLIED, audit=self._update_audit(before, after)))
                    settled.append((before, after))
                else:
                    back[RowState.PLANNED].append(record.row)
        self.jobs.finish_rows(self.job_id, outcomes)
        for state, rows in back.items():
            self.jobs.set_state(self.job_id, rows, state)
        self._give_back([(self._planned_of(o.row), o) for o in outcomes if o.state is RowState.FAILED])
        self._sessions_end([], settled)  # the crash may have come before the flush and the kick

    def _planned_of(self, row: int) -> Account:
        record = self.jobs.rows(self.job_id, None, row - 1, 1)[0]
        return account_from_json(record.data["account"])

    def _give_back_reserved(self) -> None:
        booked = self.jobs.planned_creates(self.job_id, (RowState.RESERVED,))
        for domain, (count, quota) in sorted(booked.items()):
            rows = self.jobs.reserved_rows(self.job_id, domain)
            self.jobs.set_state(self.job_id, rows, RowState.PLANNED)  # first: a kill now leaves it booked
            try:
                self.b.domains.adjust_usage(domain, -count, -quota)
            except NotFound:
                pass  # the domain is gone, and its counters with it
            except BaseException:
                self.jobs.set_state(self.job_id, rows, RowState.RESERVED)  # still booked
                raise

    def _give_back(self, failed: list[tuple[Account, Outcome]]) -> None:
        """The room of creates that failed after it was booked, once their outcome is
        committed (a kill before leaves it booked, never given back twice)."""
        per_domain: dict[str, list[int]] = {}
        for account, _ in failed:
            n, q = per_domain.setdefault(account.domain, [0, 0])
            per_domain[account.domain] = [n + 1, q + account.quota]
        for domain, (n, q) in sorted(per_domain.items()):
            try:
                self.b.domains.adjust_usage(domain, -n, -q)
            except NotFound:
                pass

    # ---- the run ---------------------------------------------------------------
    def reserve(self) -> None:
        """Room for every create still to apply, one compare-and-swap per domain; the rows
        are marked RESERVED right after (a domain that does not fit books row by row)."""
        for domain, (count, quota) in sorted(self.jobs.planned_creates(self.job_id).items()):
            try:
                self.b.domains.adjust_usage(domain, count, quota,
                                            check=functools.partial(check_account_fits, new_quota=quota,
                                                                    extra_accounts=count))
            except (LimitExceeded, NotFound):
                self._per_row.add(domain)
                continue
            self.jobs.mark_reserved(self.job_id, domain)

    def _chunks(self) -> Iterator[list[RowRecord]]:
        after = 0
        while True:
            size = HASHING_CHUNK if self._pool is not None else CHUNK
            batch = self.jobs.rows(self.job_id, (RowState.PLANNED, RowState.RESERVED), after, size)
            if not batch:
                return
            yield batch
            after = batch[-1].row

    def _hash_pool(self) -> ProcessPoolExecutor:
        """Started at the first password to hash (an import of stored hashes needs none)."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.hash_workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _prepare(self, chunk: list[RowRecord], cells: PasswordCells) -> list[Item]:
        items = [Item(r) for r in chunk]
        creates = [i for i in items if i.record.action == "create"]
        values = cells.cells([i.record.row for i in creates])
        to_hash: list[tuple[Item, str]] = []
        params = self.b.argon2
        for item in creates:
            item.account = account_from_json(item.record.data["account"])
            kind, value = stored_or_plain(values.get(item.record.row, ""))
            if self.must_change or self._lifecycle(item.account.domain).must_change_new(kind is PasswordKind.GENERATE):
                item.account = dataclasses.replace(item.account, must_change_password=True)
            if kind is PasswordKind.HASH:
                item.password_hash = value
                continue
            if kind is PasswordKind.GENERATE:  # drawn to meet the domain's password policy
                item.generated = value = generate_for(policy_for(self.b, item.account.domain), person_of(item.account))
            to_hash.append((item, value))
        for start in range(0, len(to_hash), HASHES_PER_TASK):
            group = to_hash[start:start + HASHES_PER_TASK]
            future = self._hash_pool().submit(hash_many, params, [p for _, p in group])
            for n, (item, _) in enumerate(group):
                item.hash_future = (future, n)
        return items

    def run(self, cells: PasswordCells) -> None:
        """Apply every planned row. Hashing runs ahead of the writes by a few chunks; an
        import of stored hashes writes each chunk as soon as it is read."""
        try:
            with ThreadPoolExecutor(self.writers, thread_name_prefix="import-writer") as writers:
                pending: deque[list[Item]] = deque()
                for chunk in self._chunks():
                    pending.append(self._prepare(chunk, cells))
                    if len(pending) > (PREFETCH_CHUNKS if self._pool is not None else 0):
                        self._write(pending.popleft(), writers)
                while pending:
                    self._write(pending.popleft(), writers)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None

    def _write(self, items: list[Item], writers: ThreadPoolExecutor) -> None:
        for item in items:
            if item.hash_future is not None:
                hashes, n = item.hash_future
                item.password_hash = hashes.result()[n]
        self.journal.append((i.record.row, i.record.email, i.generated) for i in items if i.generated)
        refused = self._book_row_by_row(items)
        items = [i for i in items if i.record.row not in {o.row for o in refused}]
        self.jobs.set_state(self.job_id, [i.record.row for i in items], RowState.INFLIGHT)
        together = self._create_together(items)
        written = {o.row for o in together}
        alone = [i for i in items if i.record.row not in written]
        futures = [writers.submit(self._write_one, item) for item in alone]
        written_alone: list[tuple[Item, Outcome]] = []  # a row whose write raised has no outcome
        error: BaseException | None = None
        for item, written_one in zip(alone, futures, strict=True):
            try:
                written_alone.append((item, written_one.result()))
            except BaseException as exc:  # the row stays in flight; recover() settles it
                error = error or exc
        self.jobs.finish_rows(self.job_id, refused + together + [o for _, o in written_alone])
        # the room of the creates that failed goes back once their outcome is committed
        self._give_back([(i.account, o) for i, o in written_alone if o.state is RowState.FAILED
                         and i.record.action == "create" and i.account is not None])
        updated = [i for i, o in written_alone if o.state is RowState.APPLIED and i.record.action == "update"]
        self._sessions_end([i.record.email for i in updated], [i.written for i in updated if i.written is not None])
        if error is not None:
            raise error
        self.on_chunk(len(items))

    def _book_row_by_row(self, items: list[Item]) -> list[Outcome]:
        """Room for the chunk's creates that have none booked yet (their domain did not fit
        whole in reserve()), one compare-and-swap each, each row marked RESERVED at once.
        The outcomes of those refused (the domain full, or gone)."""
        refused: list[Outcome] = []
        for item in items:
            account = item.account
            if item.record.action != "create" or item.record.state is not RowState.PLANNED or account is None:
                continue
            try:
                self.b.domains.adjust_usage(account.domain, 1, account.quota,
                                            check=functools.partial(check_account_fits, new_quota=account.quota))
            except LimitExceeded as exc:
                refused.append(Outcome(item.record.row, RowState.FAILED,
                                       "quota" if exc.field == "quota" else "email", exc.why))
                continue
            except NotFound:
                refused.append(Outcome(item.record.row, RowState.FAILED, "email",
                                       Why.DOMAIN_UNHOSTED(domain=account.domain)))
                continue
            self.jobs.set_state(self.job_id, [item.record.row], RowState.RESERVED)
        return refused

    def _create_together(self, items: list[Item]) -> list[Outcome]:
        """The chunk's new accounts in one LDAP transaction (directory/batch.py), except
        those whose domain reserves room row by row and those whose address an entry has
        taken since validation. Returns their outcomes; if slapd refuses the transaction
        (it wrote none) or does not answer, nothing: every row is then written alone."""
        creates: list[tuple[Item, Account, str]] = []
        for item in items:
            if item.record.action == "create":
                assert item.account is not None and item.password_hash is not None
                if item.account.domain not in self._per_row:
                    creates.append((item, item.account, item.password_hash))
        if len(creates) < 2:
            return []
        # every address each new account would hold, its own and its aliases (alone, a row
        # whose address was taken since validation fails, naming it)
        taken = in_use(self.b.gateway, self.b.layout, [a for _, account, _ in creates
                                                       for a in (account.email, *account.aliases)])
        together = [c for c in creates if not taken.intersection(a.lower() for a in (c[1].email, *c[1].aliases))]
        if len(together) < 2:
            return []
        try:
            self.b.accounts.create_all([(account, password_hash) for _, account, password_hash in together])
        except TransactionRefused:
            return []  # none written; alone, the refused row fails and the others are written
        except DirectoryUnreachable:
            for item, _, _ in together:
                item.unanswered = True  # alone, each row first looks whether it is there
            return []
        return [Outcome(item.record.row, RowState.APPLIED, audit=self._audit("account.create", account))
                for item, account, _ in together]

    def _taken(self, row: int, own: str | None, aliases: tuple[str, ...]) -> Outcome | None:
        """A row whose own address or one of the aliases it writes is held now by another
        entry (in any domain, as `mail` or `mgtAliasAddress`), looked at just before the
        write: validation's answer may be old. Failed, naming only the kind of holder."""
        addresses = ([own] if own is not None else []) + list(aliases)
        if not addresses:
            return None
        taken = in_use(self.b.gateway, self.b.layout, addresses)
        if not taken:
            return None
        holders = holders_of(self.b.gateway, self.b.layout, taken)
        for address in addresses:
            if address.lower() not in taken:
                continue
            holder = holders.get(address.lower())
            kind = holder.kind if holder is not None else "account"
            if address == own:
                why = (Why.CREATED_MEANWHILE(address=address) if kind == "account"
                       else Why.ADDRESS_TAKEN(address=address, holder=Term(kind)))
                return Outcome(row, RowState.FAILED, "email", why)
            return Outcome(row, RowState.FAILED, "aliases", Why.ADDRESS_TAKEN(address=address, holder=Term(kind)))
        return None

    def _write_one(self, item: Item) -> Outcome:
        return self._create(item) if item.record.action == "create" else self._update(item)

    def _create(self, item: Item) -> Outcome:
        account, row = item.account, item.record.row
        assert account is not None and item.password_hash is not None
        if item.unanswered and self.b.accounts.find(account.email) == account:
            return Outcome(row, RowState.APPLIED, audit=self._audit("account.create", account))  # ours
        taken = self._taken(row, account.email, account.aliases)
        if taken is not None:
            return taken  # its room goes back once the outcome is committed (_write)
        unanswered = item.unanswered  # an earlier attempt got no answer: it may have been applied
        for attempt in range(WRITE_ATTEMPTS):
            try:
                self.b.accounts.create(account, item.password_hash)
            except (AlreadyExists, NotFound) as exc:
                if unanswered and self.b.accounts.find(account.email) == account:
                    break  # our own earlier attempt
                why = (Why.CREATED_MEANWHILE(address=account.email) if isinstance(exc, AlreadyExists)
                       else Why.DOMAIN_UNHOSTED(domain=account.domain))
                return Outcome(row, RowState.FAILED, "email", why)
            except DirectoryUnreachable:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise  # the row stays in flight: resume settles it
                unanswered = True
                time.sleep(RETRY_PAUSE_S * (attempt + 1))
                continue
            break
        return Outcome(row, RowState.APPLIED, audit=self._audit("account.create", account))

    def _update(self, item: Item) -> Outcome:
        record = item.record
        current = self.b.accounts.find(record.email)
        if current is None:
            return Outcome(record.row, RowState.FAILED, "email", Why.NO_LONGER_EXISTS(address=record.email))
        after = apply_changes(current, changes_from_json(record.data["changes"]))
        if after == current:
            return Outcome(record.row, RowState.UNCHANGED)
        held = {a.lower() for a in current.aliases}
        taken = self._taken(record.row, None, tuple(a for a in after.aliases if a.lower() not in held))
        if taken is not None:
            return taken
        delta = after.quota - current.quota
        # more quota is booked before the write, less given back after it: a kill in between
        # leaves the domain counting too much, never too little
        if delta > 0:
            try:
                self.b.domains.adjust_usage(current.domain, 0, delta,
                                            check=lambda d: check_quota_change(d, current.quota, after.quota))
            except LimitExceeded as exc:
                return Outcome(record.row, RowState.FAILED, "quota", exc.why)
        try:
            for attempt in range(WRITE_ATTEMPTS):  # a replace of every field: safe to repeat
                try:
                    self.b.accounts.save(after)
                    break
                except DirectoryUnreachable:
                    if attempt == WRITE_ATTEMPTS - 1:
                        raise
                    time.sleep(RETRY_PAUSE_S * (attempt + 1))
        except NotFound:
            if delta > 0:
                self.b.domains.adjust_usage(current.domain, 0, -delta)
            return Outcome(record.row, RowState.FAILED, "email", Why.NO_LONGER_EXISTS(address=record.email))
        if delta < 0:
            self.b.domains.adjust_usage(current.domain, 0, delta)
        item.written = (current, after)
        return Outcome(record.row, RowState.APPLIED, audit=self._update_audit(current, after))
