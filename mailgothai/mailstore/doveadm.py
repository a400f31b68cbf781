"""Talking to the local Dovecot through `doveadm -c CONFIG`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailgothai.errors import MailStoreError


@dataclass(frozen=True)
class QuotaUsage:
    used_bytes: int
    limit_bytes: int | None  # None: no limit


# `doveadm acl set` takes rights by name (RFC 4314 letters in Dovecot's ACL plugin).
ACL_NAMES = {"l": "lookup", "r": "read", "w": "write", "s": "write-seen", "t": "write-deleted", "i": "insert",
             "p": "post", "e": "expunge", "k": "create", "x": "delete", "a": "admin"}


class Doveadm:
    """doveadm against one Dovecot instance. Without a local config it does nothing
    that needs Dovecot: caches then simply expire after their TTL."""

    def __init__(self, config: Path) -> None:
        self._config = config

    @property
    def available(self) -> bool:
        return self._config.is_file() and shutil.which("doveadm", path="/usr/bin:/usr/sbin") is not None

    def _run(self, *args: str) -> str:
        cmd = [shutil.which("doveadm", path="/usr/bin:/usr/sbin") or "doveadm", "-c", str(self._config), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise MailStoreError(f"doveadm {args[0]} failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    def flush_auth_cache(self, users: Iterable[str]) -> None:
        """Forget cached logins and user data, so a change applies at the next login."""
        names = list(users)
        if not names or not self.available:
            return
        try:
            self._run("auth", "cache", "flush", *names)
        except MailStoreError:
            # Dovecot not running: nothing is cached. Anything else: the TTL bounds it.
            pass

    def kick(self, users: Iterable[str]) -> None:
        """End the users' open IMAP sessions now (after a delete or a rename)."""
        names = list(users)
        if not names or not self.available:
            return
        for name in names:
            try:
                self._run("kick", name)
            except MailStoreError:
                pass  # Dovecot not running, or nobody of that name logged in

    def folders(self, user: str) -> list[str]:
        """The user's folder names."""
        return [line for line in self._run("mailbox", "list", "-u", user).splitlines() if line]

    def create_folder(self, user: str, folder: str) -> None:
        """Create (and subscribe) a folder of the user's mailbox."""
        self._run("mailbox", "create", "-s", "-u", user, folder)

    def import_mail(self, user: str, source_maildir: Path, parent: str) -> None:
        """Copy every message of the Maildir at source_maildir (all its folders, flags
        kept) into the user's mailbox under the folder `parent` (created, subscribed)."""
        self._run("import", "-s", "-u", user, f"maildir:{source_maildir}", parent, "all")

    def share_mailbox(self, owner: str, acl: dict[str, str]) -> None:
        """Give ACL identifiers (`group=…`) rights (RFC 4314 letters) on the INBOX of a
        shared mailbox (its other folders take the INBOX's ACL: acl_defaults_from_inbox),
        then rebuild the shared-mailbox dictionary from its ACLs, so members' clients list
        it under Shared/."""
        for identifier, rights in acl.items():
            self._run("acl", "set", "-u", owner, "INBOX", identifier, *(ACL_NAMES[letter] for letter in rights))
        self._run("acl", "recalc", "-u", owner)

    def unshare_mailbox(self, owner: str, identifiers: list[str]) -> None:
        """Take these ACL identifiers off a shared mailbox's INBOX and rebuild the
        shared-mailbox dictionary without them (before the mailbox is removed)."""
        for identifier in identifiers:
            self._run("acl", "delete", "-u", owner, "INBOX", identifier)
        self._run("acl", "recalc", "-u", owner)

    def flush_all(self) -> None:
        if not self.available:
            return
        try:
            self._run("auth", "cache", "flush")
        except MailStoreError:
            pass

    def quota(self, user: str) -> QuotaUsage:
        """The user's storage use and limit as Dovecot counts them."""
        out = self._run("-f", "tab", "quota", "get", "-u", user)
        lines = [line.split("\t") for line in out.strip().splitlines()]
        if len(lines) < 2:
            raise MailStoreError(f"doveadm quota get: unexpected output {out!r}")
        header = [h.lower() for h in lines[0]]  # doveadm prints "Quota name", "Type", "Value", ...
        for row in lines[1:]:
            record = dict(zip(header, row, strict=False))  # a row may end before its last empty columns
            if record.get("type") == "STORAGE":
                limit = record.get("limit", "-")
                return QuotaUsage(int(record["value"]) * 1024, None if limit in ("-", "") else int(limit) * 1024)
        raise MailStoreError(f"doveadm quota get: no STORAGE row in {out!r}")

    def recalc_quota(self, user: str) -> None:
        """Count the user's mailbox again (after files were put into its Maildir directly:
        Dovecot finds them and the quota counts them now, not at the next login)."""
        self._run("quota", "recalc", "-u", user)

    def quota_many(self, users: Iterable[str]) -> dict[str, int]:
        """Storage use in bytes of many users with one doveadm process (`-F` user list);
        users Dovecot does not know are left out."""
        names = [u for u in dict.fromkeys(users) if u and "\n" not in u and "\t" not in u]
        if not names:
            return {}
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".users") as listing:
            listing.write("\n".join(names) + "\n")
            listing.flush()
            out = self._run("-f", "tab", "quota", "get", "-F", listing.name)
        lines = [line.split("\t") for line in out.splitlines() if line]
        if not lines:
            return {}
        header = [h.lower() for h in lines[0]]
        used: dict[str, int] = {}
        for row in lines[1:]:
            record = dict(zip(header, row, strict=False))  # a row may end before its last empty columns
            if record.get("type") == "STORAGE" and record.get("username"):
                used[record["username"]] = int(record["value"]) * 1024
        return used
