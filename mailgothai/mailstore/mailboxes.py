"""Mailboxes on disk, found by their identity (the account entry's entryUUID):
ROOT/XX/ID, XX the id's first two hex digits — the home Dovecot's userdb gives each user
(deploy/dovecot/ldap-userdb.conf.in). Only the purge removes one, and it does so in a way
a kill cannot leave half-done: the home is first moved aside (one rename), then deleted.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from mailgothai.core.retention import parse_mailbox_id
from mailgothai.errors import MailStoreError

REMOVING = ".purging"  # ROOT/.purging/ID: a home the purge moved aside and is deleting


class Mailboxes:
    def __init__(self, root: Path) -> None:
        self.root = root

    def home(self, mailbox_id: str) -> Path:
        mailbox_id = parse_mailbox_id(mailbox_id)
        return self.root / mailbox_id[:2] / mailbox_id

    def maildir(self, mailbox_id: str) -> Path:
        return self.home(mailbox_id) / "Maildir"

    def exists(self, mailbox_id: str) -> bool:
        return self.home(mailbox_id).is_dir()

    def size(self, mailbox_id: str) -> int | None:
        """Bytes of the files under the home (mail and Dovecot's indexes); None if this
        process cannot read it (the mail store is on another machine, or not ours)."""
        home = self.home(mailbox_id)
        if not os.access(home, os.R_OK | os.X_OK):
            return None
        total = 0
        for directory, _, files in os.walk(home):
            for name in files:
                try:
                    total += os.lstat(os.path.join(directory, name)).st_size
                except OSError:
                    continue
        return total

    def count_messages(self, mailbox_id: str) -> int:
        """Messages in every folder of the Maildir (files in each cur/ and new/)."""
        maildir = self.maildir(mailbox_id)
        if not maildir.is_dir():
            return 0
        folders = [maildir, *(p for p in maildir.iterdir() if p.name.startswith(".") and p.is_dir())]
        return sum(1 for folder in folders for sub in ("cur", "new") if (folder / sub).is_dir()
                   for _ in (folder / sub).iterdir())

    def remove(self, mailbox_id: str) -> bool:
        """Delete the mailbox for good; False if there was none here. The home is moved to
        ROOT/.purging first, so a kill leaves either the whole mailbox or one being
        removed, which finish_removals() deletes. The mail root is the mail user's and the
        purge runs as root: nothing there is followed out of it (see _aside)."""
        home = self.home(mailbox_id)
        if home.is_dir():
            aside = self._aside(create=True)
            if aside is None:  # removed again between its mkdir and its open
                raise MailStoreError(f"cannot move mailbox {mailbox_id} aside: {self.root / REMOVING} vanished")
            try:
                try:
                    os.replace(home, home.name, dst_dir_fd=aside)
                except OSError as exc:
                    raise MailStoreError(f"cannot move mailbox {mailbox_id} aside: {exc}") from exc
                self._delete(aside, home.name)
            finally:
                os.close(aside)
            return True
        aside = self._aside(create=False)
        if aside is None:
            return False
        try:
            try:
                os.lstat(home.name, dir_fd=aside)
            except FileNotFoundError:
                return False
            self._delete(aside, home.name)
        finally:
            os.close(aside)
        return True

    def finish_removals(self) -> int:
        """Delete what a purge that was killed had moved aside."""
        aside = self._aside(create=False)
        if aside is None:
            return 0
        done = 0
        try:
            for name in os.listdir(aside):
                self._delete(aside, name)
                done += 1
        finally:
            os.close(aside)
        return done

    def _aside(self, create: bool) -> int | None:
        """ROOT/.purging opened as a directory (None if there is none): never through a
        symbolic link, which the mail user could point at /etc. Everything after works on
        this descriptor, so a rename of it meanwhile leads nowhere else either."""
        path = self.root / REMOVING
        if create:
            try:
                os.mkdir(path, mode=0o700)
            except FileExistsError:
                pass
        try:
            return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP: a symbolic link; ENOTDIR: something else
            kind = "a symbolic link" if path.is_symlink() else "not a directory"
            raise MailStoreError(f"{path} is {kind}: nothing removed (the purge only deletes inside a "
                                 f"real directory of the mail root; remove it by hand) [{exc.strerror}]") from exc

    @staticmethod
    def _delete(aside: int, name: str) -> None:
        """One entry of ROOT/.purging: a directory's tree (shutil.rmtree by descriptors never
        follows a link inside), anything else, a symbolic link included, unlinked."""
        if stat.S_ISDIR(os.lstat(name, dir_fd=aside).st_mode):
            shutil.rmtree(name, dir_fd=aside)
        else:
            os.unlink(name, dir_fd=aside)
