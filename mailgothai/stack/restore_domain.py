"""`mailgothai restore DIR --domain D`: one agency's accounts, aliases and mail put back
into the running service from a backup (what agencies ask for after deleting things).

The backup is checked first (`backup_manifest.verify`: the manifest's checksum, every
file's size and SHA-256): a damaged or incomplete backup is refused before anything
changes. The domain must be in the backup and hosted now (a deleted domain is added again
by an operator first: its limits are the operator's decision, and its accounts still in
retention come back with this restore).

A mailbox belongs to its account (its entryUUID), never to its address, so each account
of the domain in the backup is found in the running directory by its mailbox id:
- **live** (perhaps renamed since): its attributes stay as they are now (a password or
  quota the agency changed since is never overwritten); the mail it lost comes back;
- **deleted, in retention** (`ou=retained`): restored as `account restore` does (the
  lifecycle service: the entry moves back with its password, quota, aliases, status;
  room taken in the domain; audit `account.restore`), then the mail it lost comes back;
  one whose purge has begun is skipped;
- **gone** (purged): added again from the backup with all its attributes and its own
  entryUUID (directory/recreate.py: the rootdn under Relax Rules), after room is taken in
  the domain, then its whole mailbox is copied back; audit `account.recreate`; its Sieve
  scripts (filters, out-of-office) come back through doveadm; audit `account.sieve_restore`.
An account is skipped, with the reason in the summary, when its address now belongs to
another entry (another account, with another mailbox, or an alias): the old mail never
reaches the new holder. Mail put back is each message of the backup the mailbox does not
hold, by Maildir unique name across all its folders (mailstore/merge.py), so a second
run puts back nothing; audit `mailbox.restore` with the count. Aliases of the domain
that are gone come back if their address is free (audit `alias.restore`); existing ones
are left as they are now. Before any change, every account to restore is checked against
the domain's limits (accounts, quota pool) in order, with the core rule: a refusal names
the account and nothing is changed.

Shared role mailboxes (saraban@) the same way, by their mailbox id: a live one gets back
the mail it lost (audit `mailbox.restore`); a removed one (a shared mailbox is removed only
once empty, but it may have held mail when the backup was taken) is added again with its
own entryUUID, room taken in the domain's quota pool, its mail put back and its folders
shared again (Dovecot's ACLs for its member groups); audit `shared.recreate`. Its members
are the accounts whose entries name it: those added again from the backup are members as
they were; a live account keeps its rights as they are now (this restore never grants a
live account anything), and the summary names who was a member in the backup and is not
now, for the domain's admin to add again. One whose address now belongs to another entry
is skipped.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.csvimport.planning import Holder
from mailgothai.core.limits import check_account_fits
from mailgothai.core.models import Account, Alias, Domain, RetainedAccount, Role
from mailgothai.core.reasons import Why
from mailgothai.core.shared import SharedMailbox, member_acl, parse_access
from mailgothai.directory.accounts import to_account
from mailgothai.directory.aliases import to_alias
from mailgothai.directory.domains import to_domain
from mailgothai.directory.entries import Attrs, Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.holders import holders_of
from mailgothai.directory.ldif_reader import read_entries
from mailgothai.directory.recreate import add_all_keeping_identity, add_keeping_identity, entry_values
from mailgothai.directory.shared import ensure_shared_container, shared_dn, to_shared
from mailgothai.errors import (
    InvalidInput,
    LimitExceeded,
    MailGoThaiError,
    MailStoreError,
    NotFound,
    PermissionDenied,
    TransactionRefused,
)
from mailgothai.mailstore import merge, sieve, vacation
from mailgothai.mailstore.doveadm import Doveadm
from mailgothai.mailstore.mailboxes import Mailboxes
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service
from mailgothai.services.lifecycle import LifecycleService
from mailgothai.services.registry import Services
from mailgothai.stack import backup_manifest

FLUSH_BATCH = 500
ID_BATCH = 200  # mailbox ids asked for in one search (an OR of equality terms, entryUUID is indexed)
RECREATE_BATCH = 256  # accounts added in one LDAP transaction (one commit, one wait for the disk)


class BackupRefused(MailGoThaiError):
    """The backup did not pass its checks; nothing was changed."""


@dataclass(frozen=True)
class AccountOutcome:
    address: str  # as in the backup
    mailbox_id: str
    action: str  # recreated | undeleted | kept | skipped
    messages: int = 0  # put back (or, in a dry run, that would be)
    note: str = ""  # why it was skipped; renamed to; aliases left out


@dataclass(frozen=True)
class SharedOutcome:
    address: str  # as in the backup
    mailbox_id: str
    action: str  # recreated | kept | skipped
    messages: int = 0
    note: str = ""  # why it was skipped; members of the backup who are not members now


@dataclass(frozen=True)
class AliasOutcome:
    address: str
    action: str  # restored | kept | skipped
    note: str = ""


@dataclass(frozen=True)
class DomainRestore:
    domain: str
    backup: Path
    created: str  # when the backup was taken
    dry_run: bool
    accounts: tuple[AccountOutcome, ...]
    aliases: tuple[AliasOutcome, ...]
    shared: tuple[SharedOutcome, ...]
    mail_included: bool = True  # False: the backup was taken with --no-mail (no mail comes back)

    def count(self, action: str) -> int:
        return sum(1 for a in self.accounts if a.action == action)

    @property
    def messages(self) -> int:
        return sum(a.messages for a in self.accounts) + sum(s.messages for s in self.shared)


@dataclass(frozen=True)
class _InBackup:
    domain: Domain
    accounts: tuple[Entry, ...]
    aliases: tuple[Entry, ...]
    shared: tuple[Entry, ...]


@dataclass(frozen=True)
class _Step:
    entry: Entry
    account: Account  # as in the backup
    action: str
    note: str = ""
    retained_ref: str = ""  # undeleted: its mailbox id
    live_address: str = ""  # the address it has now (kept, undeleted)
    aliases: tuple[str, ...] = ()  # recreated: the aliases it gets back


class _Audit(Service):
    pass


def _refuse(backup: Path, problems: list[str]) -> BackupRefused:
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return BackupRefused(f"backup {backup} refused, nothing changed: " + "; ".join(problems[:5]) + more)


def check_backup(backup: Path) -> backup_manifest.Manifest:
    """The backup's manifest (its own checksum checked) and data.ldif checked against it.
    What else of the backup this restore reads (the domain's mail) is checked by
    `check_mail` once the domain's accounts are known: a one-domain restore never hashes
    the whole backup's mail (`backup verify` does, for the operator who wants it)."""
    try:
        manifest = backup_manifest.read_manifest(backup)
    except backup_manifest.BackupProblem as exc:
        raise _refuse(backup, [str(exc)]) from None
    problems = _check_files(backup, manifest, [backup_manifest.DATA_LDIF])
    if problems:
        raise _refuse(backup, problems)
    return manifest


def check_mail(backup: Path, manifest: backup_manifest.Manifest, mailbox_ids: list[str]) -> None:
    """Every file under these mailboxes in the backup is the manifest's (size, SHA-256),
    none missing, none extra."""
    problems: list[str] = []
    for mailbox_id in mailbox_ids:
        prefix = f"{backup_manifest.MAIL_DIR}/{mailbox_id[:2]}/{mailbox_id}/"
        listed = {rel for rel in manifest.files if rel.startswith(prefix)}
        home = backup / prefix
        found: set[str] = set()
        if home.is_dir():
            for rel, _ in backup_manifest.walk(home):
                found.add(prefix + rel)
        links = {rel for rel in manifest.symlinks if rel.startswith(prefix)}
        problems += [f"{rel}: not in the manifest (an extra file)" for rel in sorted(found - listed - links)]
        problems += _check_files(backup, manifest, sorted(listed))
    if problems:
        raise _refuse(backup, problems)


def _check_files(backup: Path, manifest: backup_manifest.Manifest, paths: list[str]) -> list[str]:
    """The words of `backup verify` for each of these files that is not the manifest's."""
    problems: list[str] = []
    for rel in paths:
        record = manifest.files.get(rel)
        if record is None:
            problems.append(f"{rel}: not in the manifest (an incomplete backup)")
            continue
        path = backup / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != record.size:
            problems.append(f"{rel}: {path.stat().st_size} bytes, the manifest says {record.size}")
        elif backup_manifest.sha256_file(path) != record.sha256:
            problems.append(f"{rel}: its SHA-256 differs from the manifest's (the file was changed)")
    return problems


def read_domain(backup: Path, domain: str) -> _InBackup:
    """The domain's entries in the backup's directory (one pass over data.ldif)."""
    marker = f"domainname={domain},ou=domains,"
    found: Entry | None = None
    accounts: list[Entry] = []
    aliases: list[Entry] = []
    shared: list[Entry] = []
    for entry in read_entries(backup / backup_manifest.DATA_LDIF, lambda dn: marker in dn.lower()):
        classes = {c.lower() for c in entry.all("objectClass")}
        if entry.dn.lower().startswith(marker):
            if "mgtdomain" in classes:
                found = entry
        elif "mgtaccount" in classes:
            accounts.append(entry)
        elif "mgtalias" in classes:
            aliases.append(entry)
        elif "mgtsharedmailbox" in classes:
            shared.append(entry)
    if found is None:
        raise NotFound("domain in the backup", domain)
    return _InBackup(to_domain(found), tuple(accounts), tuple(aliases), tuple(shared))


def restore_domain(services: Services, backup: Path, domain: str, *, dry_run: bool = False) -> DomainRestore:
    if services.actor.role is not Role.SUPERADMIN:
        raise PermissionDenied()
    domain = normalize_domain(domain)
    manifest = check_backup(backup)
    saved = read_domain(backup, domain)
    shared_saved = [to_shared(entry) for entry in saved.shared]
    ids = [to_account(entry).mailbox_id.lower() for entry in saved.accounts if to_account(entry).mailbox_id]
    check_mail(backup, manifest, ids + [s.mailbox_id for s in shared_saved if s.mailbox_id])
    b = services.backends
    live_domain = b.domains.find(domain)
    if live_domain is None:
        raise InvalidInput("domain", Why.DOMAIN_GONE(domain=domain))
    if manifest.mail_included and not b.mailboxes.root.is_dir():  # before any change, as the handover does
        raise MailStoreError("the mail store is not on this machine: run the restore on the Dovecot node")
    mail_copy = Mailboxes(backup / backup_manifest.MAIL_DIR)
    now = _look(b, domain, [to_account(entry) for entry in saved.accounts], shared_saved)
    steps = [_plan(b, now, entry) for entry in saved.accounts]
    shared_steps = [_plan_shared(b, now, entry) for entry in saved.shared]
    _check_limits(live_domain, steps, shared_steps)
    restorer = _Restorer(services, mail_copy, manifest, dry_run)
    if not dry_run:  # the accounts to add again, in transactions of RECREATE_BATCH, before any mail
        recreate = [step for step in steps if step.action == "recreated"]
        for start in range(0, len(recreate), RECREATE_BATCH):
            restorer.recreate(recreate[start:start + RECREATE_BATCH])
    outcomes = tuple(restorer.account(step) for step in steps)
    alias_outcomes = tuple(restorer.alias(to_alias(entry)) for entry in saved.aliases)
    shared_outcomes = [restorer.shared(step) for step in shared_steps]
    restorer.finish()
    members = _backup_members(saved.accounts)
    coming_back = {step.account.email.lower() for step in steps if step.action == "recreated"}
    shared_outcomes = [_with_missing_members(b, o, members, coming_back) for o in shared_outcomes]
    report = DomainRestore(domain, backup, manifest.created, dry_run, outcomes, alias_outcomes,
                           tuple(shared_outcomes), manifest.mail_included)
    if not dry_run:  # one record of the whole restore, beside one per change
        restorer.recorder.audit("domain.restore", "domain", domain, domain, after={
            "backup": str(backup), "created": manifest.created, "recreated": report.count("recreated"),
            "undeleted": report.count("undeleted"), "messages": report.messages,
            "aliases": sum(1 for a in alias_outcomes if a.action == "restored"),
            "shared_recreated": sum(1 for o in shared_outcomes if o.action == "recreated"),
            "skipped": [f"{a.address}: {a.note}" for a in outcomes if a.action == "skipped"]
            + [f"{o.address}: {o.note}" for o in shared_outcomes if o.action == "skipped"]})
    return report


@dataclass(frozen=True)
class _Directory:
    """What the running directory holds now, for every account of the backup, read in bulk
    (a handful of searches per few hundred accounts, not several per account)."""

    by_id: dict[str, Entry]  # mailbox id -> the entry that has it (live, retained, anything)
    retained: dict[str, RetainedAccount]  # mailbox id -> the domain's deleted accounts
    holders: dict[str, Holder]  # address (lower case) -> what holds it now


def _look(b: Backends, domain: str, accounts: list[Account], shared: list[SharedMailbox]) -> _Directory:
    ids = [a.mailbox_id.lower() for a in accounts if a.mailbox_id]
    ids += [s.mailbox_id for s in shared if s.mailbox_id]
    by_id: dict[str, Entry] = {}
    for start in range(0, len(ids), ID_BATCH):
        for entry in b.gateway.search_equal(b.layout.base, "entryUUID", ids[start:start + ID_BATCH],
                                            ("entryUUID", "mail", "objectClass")):
            by_id[entry.first("entryUUID").lower()] = entry
    retained = {r.mailbox_id.lower(): r for r in b.retained.iter_domain(domain)}
    for mailbox_id in ids:  # deleted under another domain's address (renamed first): by its id
        held = by_id.get(mailbox_id)
        if held is not None and mailbox_id not in retained and _under(held.dn, b.layout.retained):
            found = b.retained.by_id(mailbox_id)
            if found is not None:
                retained[mailbox_id] = found
    addresses = [x for a in accounts for x in (a.email, *a.aliases)]
    addresses += [r.email for r in retained.values()]
    addresses += [s.address for s in shared]
    holders = holders_of(b.gateway, b.layout, [a.lower() for a in addresses])
    return _Directory(by_id, retained, holders)


def _under(dn: str, base: str) -> bool:
    return dn.lower().endswith("," + base.lower())


def _plan(b: Backends, now: _Directory, entry: Entry) -> _Step:
    account = to_account(entry)
    mailbox_id = account.mailbox_id.lower()
    if not mailbox_id:
        return _Step(entry, account, "skipped", "no entryUUID in the backup")
    holder = now.by_id.get(mailbox_id)
    if holder is not None and _under(holder.dn, b.layout.domains) and \
            "mgtaccount" in {c.lower() for c in holder.all("objectClass")}:
        live = holder.first("mail")
        note = f"now {live}" if live.lower() != account.email.lower() else ""
        return _Step(entry, account, "kept", note, live_address=live)
    retained = now.retained.get(mailbox_id)
    if holder is not None and retained is None:
        return _Step(entry, account, "skipped", f"its mailbox id is held by another entry ({holder.dn})")
    address = retained.email if retained is not None else account.email  # deleted under another name?
    taken = _taken(b, now, address)
    if taken:
        return _Step(entry, account, "skipped", taken)
    if retained is not None:
        if retained.purging:
            return _Step(entry, account, "skipped", "deleted, and its purge has begun: run again once it is done")
        note = f"deleted as {address}" if address.lower() != account.email.lower() else ""
        return _Step(entry, account, "undeleted", note, retained_ref=mailbox_id, live_address=address)
    kept = tuple(a for a in account.aliases if a.lower() not in now.holders)
    dropped = [a for a in account.aliases if a not in kept]
    note = f"aliases now used elsewhere left out: {', '.join(dropped)}" if dropped else ""
    return _Step(entry, account, "recreated", note, live_address=account.email, aliases=kept)


@dataclass(frozen=True)
class _SharedStep:
    entry: Entry
    shared: SharedMailbox  # as in the backup
    action: str  # recreated | kept | skipped
    note: str = ""


def _plan_shared(b: Backends, now: _Directory, entry: Entry) -> _SharedStep:
    shared = to_shared(entry)
    if not shared.mailbox_id:
        return _SharedStep(entry, shared, "skipped", "no entryUUID in the backup")
    holder = now.by_id.get(shared.mailbox_id)
    if holder is not None:
        if _under(holder.dn, b.layout.domains) and \
                "mgtsharedmailbox" in {c.lower() for c in holder.all("objectClass")}:
            return _SharedStep(entry, replace(shared, address=holder.first("mail").lower()), "kept")
        return _SharedStep(entry, shared, "skipped", f"its mailbox id is held by another entry ({holder.dn})")
    taken = _taken(b, now, shared.address)
    return _SharedStep(entry, shared, "skipped", taken) if taken else _SharedStep(entry, shared, "recreated")


def _backup_members(accounts: tuple[Entry, ...]) -> dict[str, list[str]]:
    """Shared mailbox id -> the addresses of the backup's accounts that were its members."""
    out: dict[str, list[str]] = {}
    for entry in accounts:
        for shared_id, rights in parse_access(entry.first("mgtSharedAccess")).items():
            if rights:
                out.setdefault(shared_id, []).append(entry.first("mail").lower())
    return out


def _with_missing_members(b: Backends, outcome: SharedOutcome, members: dict[str, list[str]],
                          coming_back: set[str]) -> SharedOutcome:
    """The outcome, its note naming who was a member in the backup and is not one now
    (accounts added again from the backup are members as they were: `coming_back`)."""
    was = sorted(members.get(outcome.mailbox_id, []))
    if outcome.action == "skipped" or not was or b.shared is None:
        return outcome
    live = b.shared.find(outcome.address)
    now = {m.email for m in b.shared.members(live)} if live is not None else set()
    missing = [m for m in was if m not in now and m not in coming_back]
    if not missing:
        return outcome
    return replace(outcome, note=f"members in the backup who are not members now (add them again): "
                                 f"{', '.join(missing)}")


def _taken(b: Backends, now: _Directory, address: str) -> str:
    """Why `address` cannot be given back: another entry holds it now ("" if free)."""
    holder = now.holders.get(address.lower())
    if holder is None:
        return ""
    other = b.accounts.find(address) if holder.kind == "account" else None  # rare: read alone
    whose = f" (mailbox {other.mailbox_id})" if other is not None and other.mailbox_id else ""
    return f"{address} now belongs to another {holder.kind}{whose}; the old mail was not put there"


def _check_limits(domain: Domain, steps: list[_Step], shared: list[_SharedStep]) -> None:
    """Every account, then every shared mailbox, that will take room, in order, against the
    domain's limits (the core rule): the first that does not fit is named, and nothing has
    changed yet."""
    taking = [(step.account.email, step.account.quota, 1) for step in steps
              if step.action in ("recreated", "undeleted")]
    taking += [(step.shared.address, step.shared.quota, 0) for step in shared if step.action == "recreated"]
    current = domain
    for item, quota, accounts in taking:
        try:
            check_account_fits(current, quota, accounts)
        except LimitExceeded as exc:
            raise LimitExceeded("domain", Why.ITEM_REFUSED(item=item, reason=exc.why)) from None
        current = replace(current, account_count=current.account_count + accounts,
                          quota_allocated=current.quota_allocated + quota)


class _Restorer:
    def __init__(self, services: Services, mail_copy: Mailboxes, manifest: backup_manifest.Manifest,
                 dry_run: bool) -> None:
        self.services = services
        self.b = services.backends
        self.mail_copy = mail_copy
        self.manifest = manifest
        self.dry_run = dry_run
        self.recorder = _Audit(self.b, services.actor)
        self.writer = merge.MaildirWriter(self.b.mailboxes.root)
        self.doveadm = Doveadm(self.b.settings.dovecot_config)
        self.touched: list[str] = []  # addresses whose mailbox changed
        self.recreated: list[str] = []  # addresses added again (Dovecot may have cached "unknown")
        self.recreated_homes: list[tuple[str, str]] = []  # (address, mailbox id): their Sieve scripts come back
        self.recreated_shared: list[SharedMailbox] = []  # their folders are shared again
        self._manager: Gateway | None = None

    @property
    def manager(self) -> Gateway:
        if self._manager is None:
            s = self.b.settings
            self._manager = Gateway(s.ldap_uri_list[:1], s.ldap_manager_dn, s.ldap_manager_password,
                                    timeout=s.ldap_timeout)
        return self._manager

    # ---- accounts ---------------------------------------------------------------------
    def account(self, step: _Step) -> AccountOutcome:
        mailbox_id = step.account.mailbox_id
        if step.action == "skipped":
            return AccountOutcome(step.account.email, mailbox_id, "skipped", 0, step.note)
        source = self.mail_copy.maildir(mailbox_id)
        live = self.b.mailboxes.maildir(mailbox_id)
        wanted = merge.missing(source, live)
        if self.dry_run:
            return AccountOutcome(step.account.email, mailbox_id, step.action, len(wanted), step.note)
        if step.action == "undeleted":
            LifecycleService(self.b, self.services.actor).restore(step.retained_ref)
        done = self.writer.put_back(source, live, wanted, self._mtime) if wanted else 0
        if done:
            self.touched.append(step.live_address)
            self.recorder.audit("mailbox.restore", "account", step.live_address, step.account.domain,
                                after={"mailbox_id": mailbox_id, "messages": done, "backup": self.manifest.created})
        return AccountOutcome(step.account.email, mailbox_id, step.action, done, step.note)

    def recreate(self, steps: list[_Step]) -> None:
        """Add these accounts again in one LDAP transaction, after taking room for all of
        them in the domain at once (the core rule, on the counters as they are then). If
        slapd refuses the transaction (something changed since the plan), the room is given
        back and each is added alone, so the one that fails is the one named."""
        if not steps:
            return
        domain = steps[0].account.domain
        quota = sum(step.account.quota for step in steps)
        self.b.domains.adjust_usage(domain, len(steps), quota,
                                    check=lambda current: check_account_fits(current, quota, len(steps)))
        try:
            add_all_keeping_identity(self.manager, [self._new_entry(step) for step in steps])
        except TransactionRefused:
            self.b.domains.adjust_usage(domain, -len(steps), -quota)
            for step in steps:
                self._recreate_one(step)
            return
        except BaseException:
            self.b.domains.adjust_usage(domain, -len(steps), -quota)
            raise
        for step in steps:
            self._recreated(step)

    def _recreate_one(self, step: _Step) -> None:
        quota = step.account.quota
        self.b.domains.adjust_usage(step.account.domain, 1, quota,
                                    check=lambda current: check_account_fits(current, quota))
        try:
            add_keeping_identity(self.manager, *self._new_entry(step))
        except BaseException:
            self.b.domains.adjust_usage(step.account.domain, -1, -quota)
            raise
        self._recreated(step)

    def _new_entry(self, step: _Step) -> tuple[str, Attrs]:
        """The account's entry as in the backup, with its entryUUID, less the aliases another
        entry holds now."""
        values = entry_values(step.entry, drop=frozenset({"mgtaliasaddress"}))
        if step.aliases:
            values["mgtaliasaddress"] = [a.encode("utf-8") for a in step.aliases]
        return self.b.layout.account(step.account.email), values

    def _recreated(self, step: _Step) -> None:
        account = dataclasses.replace(step.account, aliases=step.aliases)
        self.recorder.audit("account.recreate", "account", account.email, account.domain, after={
            **(_public(account)), "mailbox_id": account.mailbox_id, "backup": self.manifest.created})
        self.recreated.append(account.email)
        self.recreated_homes.append((account.email, account.mailbox_id))

    def _mtime(self, path: Path) -> int | None:
        try:
            rel = path.relative_to(self.mail_copy.root.parent).as_posix()
        except ValueError:
            return None
        record = self.manifest.files.get(rel)
        return record.mtime_ns if record is not None else None

    # ---- shared mailboxes ---------------------------------------------------------------
    def shared(self, step: _SharedStep) -> SharedOutcome:
        shared = step.shared
        if step.action == "skipped":
            return SharedOutcome(shared.address, shared.mailbox_id, "skipped", 0, step.note)
        source = self.mail_copy.maildir(shared.mailbox_id)
        live = self.b.mailboxes.maildir(shared.mailbox_id)
        wanted = merge.missing(source, live)
        if self.dry_run:
            return SharedOutcome(shared.address, shared.mailbox_id, step.action, len(wanted))
        if step.action == "recreated":
            self._recreate_shared(step)
        done = self.writer.put_back(source, live, wanted, self._mtime) if wanted else 0
        if done:
            self.touched.append(shared.address)
            self.recorder.audit("mailbox.restore", "shared_mailbox", shared.address, shared.domain,
                                after={"mailbox_id": shared.mailbox_id, "messages": done,
                                       "backup": self.manifest.created})
        return SharedOutcome(shared.address, shared.mailbox_id, step.action, done)

    def _recreate_shared(self, step: _SharedStep) -> None:
        """The entry as in the backup, with its entryUUID, after room in the quota pool."""
        shared = step.shared
        ensure_shared_container(self.b.gateway, self.b.layout, shared.domain)
        self.b.domains.adjust_usage(shared.domain, 0, shared.quota,
                                    check=lambda current: check_account_fits(current, shared.quota, 0))
        try:
            add_keeping_identity(self.manager, shared_dn(self.b.layout, shared.address), entry_values(step.entry))
        except BaseException:
            self.b.domains.adjust_usage(shared.domain, 0, -shared.quota)
            raise
        self.recorder.audit("shared.create", "shared_mailbox", shared.address, shared.domain, after={
            "address": shared.address, "name": shared.name, "quota": shared.quota,
            "mailbox_id": shared.mailbox_id, "backup": self.manifest.created})
        self.recreated.append(shared.address)
        self.recreated_shared.append(shared)

    # ---- aliases ----------------------------------------------------------------------
    def alias(self, alias: Alias) -> AliasOutcome:
        holder = self.b.aliases.holder_of(alias.address)
        if holder == "alias":  # as it is now: its members may have changed since, on purpose
            return AliasOutcome(alias.address, "kept")
        if holder:
            return AliasOutcome(alias.address, "skipped", f"the address now belongs to an {holder}")
        if not self.dry_run:
            self.b.aliases.create(alias)
            self.recorder.audit("alias.restore", "alias", alias.address, alias.domain,
                                after={**_public(alias), "backup": self.manifest.created})
        return AliasOutcome(alias.address, "restored")

    def scripts(self, address: str, mailbox_id: str) -> None:
        """An account added again gets back the Sieve scripts its home held in the backup
        (its filters, ManageSieve scripts, the active one; its out-of-office reply), through
        doveadm as Dovecot stores them. A script that no longer compiles is left out and
        named in the audit record, the rest still come back."""
        home = self.mail_copy.home(mailbox_id)
        put: list[str] = []
        refused: list[str] = []
        for scripts, folder, active_link in ((self.b.sieve_scripts, sieve.HOME_DIR, sieve.HOME_ACTIVE),
                                             (self.b.vacation_scripts, vacation.HOME_DIR, vacation.HOME_ACTIVE)):
            source = home / folder
            if scripts is None or not source.is_dir() or source.is_symlink():
                continue
            for file in sorted(source.glob("*.sieve")):
                if file.is_symlink() or not file.is_file():
                    continue
                try:
                    scripts.put(address, file.stem, file.read_text("utf-8"))
                    put.append(f"{folder}/{file.name}")
                except (MailGoThaiError, UnicodeDecodeError, OSError) as exc:
                    refused.append(f"{folder}/{file.name}: {exc}")
            active = _link_target(home / active_link, source)
            if active is not None and f"{folder}/{active}.sieve" in put:
                scripts.activate(address, active)
        if put or refused:
            self.recorder.audit("account.sieve_restore", "account", address, address.rpartition("@")[2],
                                after={"scripts": put, "left_out": refused, "backup": self.manifest.created})

    def finish(self) -> None:
        if self._manager is not None:
            self._manager.close()
        if self.dry_run:
            return
        for start in range(0, len(self.recreated), FLUSH_BATCH):  # one doveadm call per batch, not per account
            self.b.doveadm.flush_auth_cache(self.recreated[start:start + FLUSH_BATCH])
        for address, mailbox_id in self.recreated_homes:  # after the flush: doveadm finds them
            self.scripts(address, mailbox_id)
        for shared in self.recreated_shared:  # its member groups' rights on its folders, as `shared add` gives
            self.b.doveadm.share_mailbox(shared.address, member_acl(shared.mailbox_id))
        for address in self.touched:  # Dovecot counts the mail put back (quota) now
            try:
                self.doveadm.recalc_quota(address)
            except MailGoThaiError:
                pass  # counted at its next look at the folders
        self.b.tell_relay()


def _link_target(link: Path, folder: Path) -> str | None:
    """The script name an "active" symlink of a backed-up home points at, if it points at a
    script of `folder` by a plain relative path (nothing else is followed)."""
    if not link.is_symlink():
        return None
    target = Path(os.readlink(link))
    if target.is_absolute() or ".." in target.parts or target.parent.name != folder.name:
        return None
    return target.stem if target.suffix == ".sieve" else None


def _public(value: Account | Alias) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, item in dataclasses.asdict(value).items():
        out[key] = getattr(item, "value", item)
    return out


def outcome_lines(report: DomainRestore) -> Iterator[str]:
    """The summary, a line each, as the CLI prints it."""
    would = "would be " if report.dry_run else ""
    for a in report.accounts:
        what = {"recreated": f"{would}added again from the backup", "undeleted": f"{would}undeleted from retention",
                "kept": "exists", "skipped": "skipped"}[a.action]
        mail = f", {a.messages} message(s) {would}put back" if a.action != "skipped" else ""
        note = f" ({a.note})" if a.note else ""
        yield f"{a.address}: {what}{mail}{note}"
    for al in report.aliases:
        what = {"restored": f"{would}restored", "kept": "exists", "skipped": "skipped"}[al.action]
        yield f"alias {al.address}: {what}" + (f" ({al.note})" if al.note else "")
    if not report.mail_included:
        yield "the backup holds no mail (taken with --no-mail): accounts only, no message put back"
    for sh in report.shared:
        what = {"recreated": f"{would}added again from the backup", "kept": "exists", "skipped": "skipped"}[sh.action]
        mail = f", {sh.messages} message(s) {would}put back" if sh.action != "skipped" else ""
        yield f"shared mailbox {sh.address}: {what}{mail}" + (f" ({sh.note})" if sh.note else "")
    yield (f"domain {report.domain} from the backup of {report.created}: {report.count('recreated')} account(s) "
           f"{would}added again, {report.count('undeleted')} {would}undeleted, {report.messages} message(s) "
           f"{would}put back, {sum(1 for al in report.aliases if al.action == 'restored')} alias(es) {would}restored, "
           f"{sum(1 for sh in report.shared if sh.action == 'recreated')} shared mailbox(es) {would}added again, "
           f"{report.count('skipped')} account(s) skipped")
