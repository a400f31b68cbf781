"""Dovecot's port in memory: remembers what it was asked (flushes, kicks), answers mailbox
sizes the test sets, and keeps folders per user."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class FakeMailServer:
    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}  # what `quota_many` reports, by address
        self.flushed: list[str] = []  # users whose cached login was flushed, in order
        self.flushed_all = 0
        self.kicked: list[str] = []
        self.mailbox_folders: dict[str, list[str]] = {}
        self.imported: list[tuple[str, Path, str]] = []
        self.shared_acls: dict[str, dict[str, str]] = {}  # shared mailbox -> ACL identifier -> rights

    @property
    def available(self) -> bool:
        return True

    def flush_auth_cache(self, users: Iterable[str]) -> None:
        self.flushed.extend(users)

    def flush_all(self) -> None:
        self.flushed_all += 1

    def kick(self, users: Iterable[str]) -> None:
        self.kicked.extend(users)

    def quota_many(self, users: Iterable[str]) -> dict[str, int]:
        return {u: self.sizes[u] for u in users if u in self.sizes}

    def folders(self, user: str) -> list[str]:
        return list(self.mailbox_folders.get(user, ["INBOX"]))

    def create_folder(self, user: str, folder: str) -> None:
        self.mailbox_folders.setdefault(user, ["INBOX"]).append(folder)

    def import_mail(self, user: str, source_maildir: Path, parent: str) -> None:
        self.imported.append((user, source_maildir, parent))

    def share_mailbox(self, owner: str, acl: dict[str, str]) -> None:
        self.shared_acls.setdefault(owner, {}).update(acl)

    def unshare_mailbox(self, owner: str, identifiers: list[str]) -> None:
        for identifier in identifiers:
            self.shared_acls.get(owner, {}).pop(identifier, None)
