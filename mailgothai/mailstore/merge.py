"""Putting messages of a Maildir copy (a backup's) back into a live Maildir: only those
the live one does not hold, so running it twice copies nothing the second time.

A message is known by its Maildir unique name, the part of the file name before the
info (`:2,` and the flags), which Dovecot never changes while the message lives: the
flags part does change (read, answered, deleted). Messages are compared across every
folder of the mailbox, so a message the user moved to another folder is not put back
into the folder it was in. Each file is copied as Maildir delivers: into the folder's
tmp/ first (bytes and modification time, which Dovecot shows as the received date), then
renamed into cur/ or new/ as in the copy; Dovecot finds it at its next look at the folder.
Folders (Maildir++: `.Name` directories beside cur/new/tmp) are made when missing, with
the mail store's owner (the root of the mail store's, when run as root).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mailgothai.errors import MailStoreError

MESSAGE_DIRS = ("cur", "new")
# Dovecot's files of a folder that a fresh copy takes along: the keyword letters the
# flags part uses, and the folder list a client shows.
FOLDER_FILES = ("dovecot-keywords",)
ROOT_FILES = ("subscriptions",)


@dataclass(frozen=True)
class Message:
    folder: str  # "" for the INBOX, else the Maildir++ directory (".Sent")
    sub: str  # "cur" or "new"
    name: str

    @property
    def key(self) -> str:
        return message_key(self.name)

    def path(self, maildir: Path) -> Path:
        return maildir / self.folder / self.sub / self.name


def message_key(name: str) -> str:
    """A message file's unique name: before the info (":2,FLAGS")."""
    return name.partition(":")[0]


def folders(maildir: Path) -> list[str]:
    if not maildir.is_dir():
        return []
    return ["", *sorted(p.name for p in maildir.iterdir()
                        if p.name.startswith(".") and p.name not in (".", "..") and p.is_dir())]


def messages(maildir: Path) -> Iterator[Message]:
    """Every message file (regular files only: a symbolic link in a copy is never followed
    into someone's mailbox)."""
    for folder in folders(maildir):
        for sub in MESSAGE_DIRS:
            directory = maildir / folder / sub
            if not directory.is_dir():
                continue
            for entry in os.scandir(directory):
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                    yield Message(folder, sub, entry.name)


def missing(source: Path, live: Path) -> list[Message]:
    """The messages of `source` that `live` (any folder) does not hold."""
    present = {m.key for m in messages(live)}
    wanted: list[Message] = []
    for message in messages(source):
        if message.key not in present:
            present.add(message.key)  # the same message twice in the copy goes back once
            wanted.append(message)
    return wanted


class MaildirWriter:
    """Writes into live Maildirs as the mail store's owner (Dovecot's mail user)."""

    def __init__(self, mail_root: Path) -> None:
        self._root = mail_root
        owner = mail_root.stat() if mail_root.is_dir() else None
        self._owner = (owner.st_uid, owner.st_gid) if owner is not None and os.geteuid() == 0 else None

    def _own(self, path: Path) -> None:
        if self._owner is not None:
            os.chown(path, *self._owner, follow_symlinks=False)

    def _dir(self, path: Path) -> None:
        """Make path and the missing directories above it (up to the mail root), owner-only."""
        missing_dirs: list[Path] = []
        at = path
        while not at.is_dir():
            if at == self._root or self._root not in at.parents:
                raise MailStoreError(f"{path} is outside the mail store {self._root}")
            missing_dirs.append(at)
            at = at.parent
        for directory in reversed(missing_dirs):
            directory.mkdir(mode=0o700, exist_ok=True)
            self._own(directory)

    def _folder(self, source: Path, live: Path, folder: str) -> None:
        target = live / folder
        fresh = not target.is_dir()
        for sub in ("cur", "new", "tmp"):
            self._dir(target / sub)
        if folder and not (target / "maildirfolder").exists():
            (target / "maildirfolder").touch(mode=0o600)
            self._own(target / "maildirfolder")
        if fresh:
            for name in FOLDER_FILES:
                self._copy_file(source / folder / name, target / name)
        if fresh and not folder:
            for name in ROOT_FILES:
                self._copy_file(source / name, target / name)

    def _copy_file(self, source: Path, target: Path) -> None:
        if source.is_file() and not target.exists():
            shutil.copy2(source, target)
            self._own(target)

    def put_back(self, source: Path, live: Path, wanted: list[Message],
                 mtime_ns: Callable[[Path], int | None] = lambda path: None) -> int:
        """Copy the wanted messages from source into live (made if missing); how many.
        `mtime_ns(file in source)`: the arrival time to give the copy, if the source's
        own modification time is not it (a backup's manifest keeps it)."""
        done = 0
        if not wanted:
            return 0
        self._folder(source, live, "")  # the INBOX first: a mailbox made afresh gets its folder list
        ready = {""}
        for message in wanted:
            if message.folder not in ready:
                self._folder(source, live, message.folder)
                ready.add(message.folder)
            target = message.path(live)
            if target.exists():
                continue
            staging = live / message.folder / "tmp" / f"{message.key}.restore.{os.getpid()}"
            try:
                shutil.copy2(message.path(source), staging)
                arrived = mtime_ns(message.path(source))
                if arrived is not None:
                    os.utime(staging, ns=(arrived, arrived))
                with staging.open("rb") as written:
                    os.fsync(written.fileno())
                staging.chmod(0o600)
                self._own(staging)
                os.rename(staging, target)
            except OSError as exc:
                staging.unlink(missing_ok=True)
                raise MailStoreError(f"cannot put back {message.path(source)}: {exc}") from exc
            done += 1
        return done
