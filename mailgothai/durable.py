"""Files that must survive a crash once written (the relay's spool, the quarantine): the
bytes fsynced before the file is used, and the directory fsynced after a name in it
changed, so an answer given after these calls is never lost to a power cut."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def write_synced(path: Path, chunks: Iterable[bytes], *, follow_links: bool = True) -> None:
    """`path` made (0600) or emptied, `chunks` written and fsynced. Blocking."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if follow_links else os.O_NOFOLLOW)
    fd = os.open(path, flags, 0o600)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """A directory's entries (a file made, renamed or removed in it) made durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
