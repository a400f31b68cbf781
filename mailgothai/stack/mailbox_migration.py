"""Mail of a data directory made before mailboxes had their own identity moves to where
this version looks for it: from DATA/mail/DOMAIN/LOCAL (by address, Dovecot's old
mail_home) to MAILBOXES/XX/ENTRYUUID (by the account entry's entryUUID). `stack up` runs
this before it starts Dovecot, and `mailgothai mailbox migrate` on a production node.

Each mailbox moves with one rename (same file system: nothing is copied, so no message can
be lost and a 1 GB mailbox moves as fast as an empty one). A kill leaves every mailbox
whole at one of its two places; the next run moves the rest. The legacy root's existence is
the state: it is removed once it is empty, and a data directory without it needs nothing.

What the legacy root holds that no account owns is mail of accounts an older version
deleted without keeping their mail: each becomes a deleted account (ou=retained, no
password) kept for its domain's retention period from now, listed, restorable and able to
be handed over like any other.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailgothai.core.addresses import normalize_address
from mailgothai.core.models import Account, DomainLimits
from mailgothai.core.retention import purge_date
from mailgothai.directory import escaping as f
from mailgothai.directory.domains import DomainDirectory
from mailgothai.directory.entries import unit_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.retained import RetainedDirectory
from mailgothai.errors import AlreadyExists, InvalidInput
from mailgothai.mailstore.mailboxes import Mailboxes
from mailgothai.settings import Settings

log = logging.getLogger(__name__)
ORPHAN_DELETED_BY = "upgrade: deleted by an earlier version, mail kept"


@dataclass
class Migration:
    moved: int = 0  # mailboxes of accounts moved to their id-based home
    adopted: list[str] = field(default_factory=list)  # addresses of mail no account owned, now retained
    left: list[str] = field(default_factory=list)  # legacy folders left where they are, and why

    def describe(self) -> list[str]:
        lines = [f"{self.moved} mailboxes moved to their mailbox id"] if self.moved else []
        if self.adopted:
            lines.append(f"{len(self.adopted)} mailboxes of accounts deleted by an earlier version kept as "
                         "deleted accounts (mailgothai account deleted list DOMAIN)")
        lines += [f"left in place: {item}" for item in self.left]
        return lines


def ensure_retained_container(gateway: Gateway, layout: Layout) -> bool:
    """ou=retained, which a directory made by an older version lacks. True if added."""
    if gateway.read(layout.retained, ("ou",)) is not None:
        return False
    try:
        gateway.add(unit_entry(layout.retained))
    except AlreadyExists:
        return False
    return True


def needed(settings: Settings) -> bool:
    return settings.legacy_mail_root.is_dir()


def migrate(settings: Settings, now: datetime | None = None) -> Migration:
    """Move every legacy mailbox; Dovecot must not be running (it would write to either)."""
    legacy = settings.legacy_mail_root.resolve()
    mailboxes = Mailboxes(settings.mailbox_root_path.resolve())
    layout = Layout(settings.ldap_base)
    gateway = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                      timeout=settings.ldap_timeout)
    done = Migration()
    try:
        ensure_retained_container(gateway, layout)
        if not legacy.is_dir():
            return done
        _prepare_root(mailboxes.root, settings)
        for entry in gateway.iter_paged(layout.domains, f.eq("objectClass", "mgtAccount"),
                                        ("mail", "entryUUID"), page_size=1000):
            old = _legacy_home(legacy, entry.first("mail"), done)
            if old is not None and _move(old, mailboxes, entry.first("entryUUID"), done):
                done.moved += 1
        _adopt_orphans(legacy, mailboxes, gateway, layout, now or datetime.now(UTC), done)
        _remove_if_empty(legacy)
    finally:
        gateway.close()
    return done


def _prepare_root(root: Path, settings: Settings) -> None:
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.geteuid() == 0:
        os.chown(root, settings.mail_uid, settings.mail_gid)


def _legacy_home(legacy: Path, address: str, done: Migration) -> Path | None:
    """LEGACY/DOMAIN/LOCAL, the older version's home of this address, or None (the reason in
    done.left) where that is no folder of the legacy root: a local part may hold '/' (so
    '/etc@a.go.th' would make '/etc' for pathlib) and the moves run as root. Each part must
    be one folder name, and no symbolic link is followed out of (or moved from) the root."""
    local, _, domain = address.lower().rpartition("@")
    for what, part in (("local part", local), ("domain", domain)):
        if part in ("", ".", "..") or "/" in part or "\0" in part:
            done.left.append(f"{address}: its {what} is not one folder name, so no older mail is looked "
                             f"for under {legacy} (nothing moved)")
            return None
    old = legacy / domain / local
    return old if _inside(legacy, old, done) else None


def _inside(legacy: Path, old: Path, done: Migration) -> bool:
    """old is LEGACY/DOMAIN/LOCAL with neither part a symbolic link (a link's target is not
    moved, nor is the link, which would make a home that leads elsewhere); else why not in done.left."""
    if old.parent.parent != legacy:
        done.left.append(f"{old}: not a folder of {legacy}/DOMAIN (nothing moved)")
        return False
    link = old.parent if old.parent.is_symlink() else old if old.is_symlink() else None
    if link is not None:
        reason = f"{link}: a symbolic link, not followed (nothing moved)"
        if reason not in done.left:  # a linked DOMAIN once, not once per account
            done.left.append(reason)
        return False
    if not old.resolve().is_relative_to(legacy):
        done.left.append(f"{old}: leads outside {legacy} (nothing moved)")
        return False
    return True


def _move(old: Path, mailboxes: Mailboxes, mailbox_id: str, done: Migration) -> bool:
    """Rename old to the mailbox's home; False if there is nothing at old."""
    home = mailboxes.home(mailbox_id)
    if home.exists():
        if old.exists():
            done.left.append(f"{old}: {home} exists too (merge by hand; nothing was moved)")
        return False
    shard = home.parent
    if not shard.is_dir():
        shard.mkdir(mode=0o700, exist_ok=True)
        st = mailboxes.root.stat()
        if os.geteuid() == 0:
            os.chown(shard, st.st_uid, st.st_gid)
    try:
        os.rename(old, home)
    except FileNotFoundError:
        return False
    return True


def _adopt_orphans(legacy: Path, mailboxes: Mailboxes, gateway: Gateway, layout: Layout, now: datetime,
                   done: Migration) -> None:
    retained = RetainedDirectory(gateway, layout)
    domains = DomainDirectory(gateway, layout)
    made = 0
    for domain_dir in sorted(p for p in legacy.iterdir() if p.is_dir()):
        if domain_dir.is_symlink():
            reason = f"{domain_dir}: a symbolic link, not followed (nothing moved)"
            if reason not in done.left:
                done.left.append(reason)
            continue
        domain = domains.find(domain_dir.name)
        limits = domain.limits if domain is not None else DomainLimits()
        for home in sorted(p for p in domain_dir.iterdir() if p.is_dir() or p.is_symlink()):
            if not _inside(legacy, home, done):
                continue
            try:
                address = normalize_address(f"{home.name}@{domain_dir.name}")
            except InvalidInput as exc:
                done.left.append(f"{home}: not an address ({exc.reason})")
                continue
            # A run killed after making the entry and before the move made one already.
            waiting = [r for r in retained.by_address(address)
                       if r.deleted_by == ORPHAN_DELETED_BY and not mailboxes.exists(r.mailbox_id)]
            if waiting:
                kept = waiting[0]
            else:
                account = Account(email=address, domain=domain_dir.name, quota=limits.default_quota)
                # Each its own time (entries are named by it): one add each, never a retry per earlier one.
                deleted_at = now + timedelta(microseconds=made)
                made += 1
                kept = retained.add(account, deleted_at, ORPHAN_DELETED_BY,
                                    purge_date(deleted_at, limits.retention_days), _size(home))
            if _move(home, mailboxes, kept.mailbox_id, done):
                done.adopted.append(address)


def _size(home: Path) -> int:
    return sum(os.lstat(os.path.join(d, name)).st_size for d, _, files in os.walk(home) for name in files)


def _remove_if_empty(legacy: Path) -> None:
    for domain_dir in legacy.iterdir():
        if domain_dir.is_dir():
            try:
                domain_dir.rmdir()
            except OSError:
                pass  # something was left in place (reported)
    try:
        legacy.rmdir()
    except OSError:
        log.warning("%s is not empty: what is left there was not moved (see the messages above)", legacy)
