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
import stat
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


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class MaildirWriter:
    """Writes into live Maildirs as the mail store's owner (Dovecot's mail user).

    The mail store belongs to that user and this runs as root: every directory below the
    mail root is opened with O_NOFOLLOW (a symbolic link, or anything not a directory, is
    refused with a MailStoreError naming it) and every file is made by name in such a
    directory's descriptor with O_CREAT|O_EXCL|O_NOFOLLOW, so nothing is ever written
    through a link the user planted (e.g. Maildir/tmp -> /etc/profile.d)."""

    def __init__(self, mail_root: Path) -> None:
        self._root = mail_root
        owner = mail_root.stat() if mail_root.is_dir() else None
        self._owner = (owner.st_uid, owner.st_gid) if owner is not None and os.geteuid() == 0 else None

    def _own(self, fd: int) -> None:
        if self._owner is not None:
            os.fchown(fd, *self._owner)

    def _subdir(self, parent: int, name: str, shown: Path) -> tuple[int, bool]:
        """parent/name made if missing (0700, the store's owner) and opened, never through a
        symbolic link; (its descriptor, whether it was made now)."""
        made = False
        try:
            os.mkdir(name, mode=0o700, dir_fd=parent)
            made = True
        except FileExistsError:
            pass
        except OSError as exc:
            raise MailStoreError(f"cannot make {shown}: {exc.strerror}") from exc
        try:
            fd = os.open(name, _DIR, dir_fd=parent)
        except OSError as exc:
            try:
                kind = "a symbolic link" if stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode) else "not a directory"
            except OSError:
                kind = "gone"
            raise MailStoreError(f"{shown} is {kind} in the mail store, not a real directory: nothing is "
                                 f"written there (look at what made it) [{exc.strerror}]") from exc
        if made:
            try:
                self._own(fd)
            except OSError:
                os.close(fd)
                raise
        return fd, made

    def _dir(self, path: Path) -> tuple[int, bool]:
        """path (under the mail root) and the directories above it up to the mail root, made
        when missing and each a real directory; (path's descriptor, whether it was made)."""
        try:
            parts = path.relative_to(self._root).parts
        except ValueError:
            parts = ()
        if not parts or any(part in (".", "..") for part in parts):
            raise MailStoreError(f"{path} is outside the mail store {self._root}")
        try:
            fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise MailStoreError(f"the mail store {self._root}: {exc.strerror}") from exc
        made = False
        shown = self._root
        try:
            for part in parts:
                shown = shown / part
                child, made = self._subdir(fd, part, shown)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd, made

    def _folder(self, source: Path, live: Path, folder: str) -> dict[str, int]:
        """The folder made ready; the descriptors of its cur/, new/ and tmp/ (the caller closes them)."""
        target = live / folder
        top, fresh = self._dir(target)
        subs: dict[str, int] = {}
        try:
            for sub in ("cur", "new", "tmp"):
                subs[sub] = self._subdir(top, sub, target / sub)[0]
            if folder:
                self._new_file(top, "maildirfolder", target, b"")
            if fresh:
                for name in FOLDER_FILES:
                    self._copy_file(source / folder / name, top, name, target)
            if fresh and not folder:
                for name in ROOT_FILES:
                    self._copy_file(source / name, top, name, target)
        except BaseException:
            for fd in subs.values():
                os.close(fd)
            raise
        finally:
            os.close(top)
        return subs

    def _new_file(self, directory: int, name: str, shown: Path, data: bytes) -> None:
        """directory/name with data, unless something (a link included) is there already."""
        try:
            fd = os.open(name, _NEW_FILE, 0o600, dir_fd=directory)
        except FileExistsError:
            return
        except OSError as exc:
            raise MailStoreError(f"cannot write {shown / name}: {exc.strerror}") from exc
        try:
            os.write(fd, data)
            self._own(fd)
        finally:
            os.close(fd)

    def _copy_file(self, source: Path, directory: int, name: str, shown: Path) -> None:
        """A regular file of the copy (a link there is not followed) to directory/name, if missing."""
        try:
            with open(source, "rb", opener=_no_follow) as src:
                if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                    return
                data = src.read()
        except OSError:  # none in the copy, or a link
            return
        self._new_file(directory, name, shown, data)

    def put_back(self, source: Path, live: Path, wanted: list[Message],
                 mtime_ns: Callable[[Path], int | None] = lambda path: None) -> int:
        """Copy the wanted messages from source into live (made if missing); how many.
        `mtime_ns(file in source)`: the arrival time to give the copy, if the source's
        own modification time is not it (a backup's manifest keeps it)."""
        done = 0
        if not wanted:
            return 0
        opened: dict[str, dict[str, int]] = {}
        try:
            opened[""] = self._folder(source, live, "")  # the INBOX first: a mailbox made afresh gets its folder list
            for message in wanted:
                if message.folder not in opened:
                    opened[message.folder] = self._folder(source, live, message.folder)
                subs = opened[message.folder]
                if self._put(source, message, subs["tmp"], subs[message.sub], mtime_ns):
                    done += 1
        finally:
            for subs in opened.values():
                for fd in subs.values():
                    os.close(fd)
        return done

    def _put(self, source: Path, message: Message, tmp: int, into: int,
             mtime_ns: Callable[[Path], int | None]) -> bool:
        """One message: written in tmp/ by name (never through a link), then renamed into
        cur/ or new/; False if the live folder holds that name already."""
        try:
            os.lstat(message.name, dir_fd=into)
            return False
        except FileNotFoundError:
            pass
        src_path = message.path(source)
        staging = f"{message.key}.restore.{os.getpid()}"
        try:
            os.unlink(staging, dir_fd=tmp)  # a killed run's, or a link put there: the name only
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise MailStoreError(f"cannot put back {src_path}: {exc}") from exc
        try:
            with open(src_path, "rb", opener=_no_follow) as src:
                st = os.fstat(src.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise MailStoreError(f"cannot put back {src_path}: not a regular file")
                out = os.open(staging, _NEW_FILE, 0o600, dir_fd=tmp)
                try:
                    with open(out, "wb", closefd=False) as written:
                        shutil.copyfileobj(src, written)
                    arrived = mtime_ns(src_path)
                    when = arrived if arrived is not None else st.st_mtime_ns
                    os.utime(out, ns=(st.st_atime_ns if arrived is None else arrived, when))
                    os.fchmod(out, 0o600)
                    os.fsync(out)
                    self._own(out)
                finally:
                    os.close(out)
            os.rename(staging, message.name, src_dir_fd=tmp, dst_dir_fd=into)
        except OSError as exc:
            try:
                os.unlink(staging, dir_fd=tmp)
            except OSError:
                pass
            raise MailStoreError(f"cannot put back {src_path}: {exc}") from exc
        return True


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
