"""Owner-only files: what the stack writes is readable by the user it runs as, no one else.

The data directory holds web sessions with their CSRF tokens, token hashes, the audit
log, import rows, keys and the directory's database. Every mailgothai process sets the
umask `UMASK` first thing (cli/main.py), every daemon the stack starts inherits it
(stack/process.py, stack/daemon.py), and `stack up` repairs a data directory made by
an older version with `repair`.

One exception: Dovecot's mail processes run as `mail_uid`, not as the stack's user, so
the directories on the way to the mail root keep search permission (x) for others
(stack/dovecot.py grant_traversal) — nothing in them becomes listable or readable.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

UMASK = 0o077
TRAVERSE = 0o011  # search permission for group and others: all a traversed directory may keep


def owner_only_umask() -> None:
    """Files and directories made by this process and its children: owner-only."""
    os.umask(UMASK)


def private_opener(path: str, flags: int) -> int:
    """`open(..., opener=private_opener)`: a new file is made 0600 whatever the umask."""
    return os.open(path, flags, 0o600)


def private_file(path: Path) -> None:
    """Make sure `path` exists and is owner-only (created empty if missing)."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


def repair(root: Path, traversed: Iterable[Path] = (), closed: Iterable[Path] = (),
           left_alone: Iterable[Path] = ()) -> list[str]:
    """Take group and other permissions away from `root` and everything under it.

    Directories in `traversed` keep their search bits (x) for group and others. A
    directory in `closed` is made owner-only itself but not entered (the mail root: its
    owner, Dovecot's mail user, makes what is inside owner-only; 207,000 mailboxes are
    not walked at every start). Paths in `left_alone` keep their mode and are not entered
    (Dovecot's runtime directory: Dovecot sets the modes its own users need there).
    Sockets and symbolic links are never changed. Returns "MODE -> MODE PATH" per change.
    """
    keep = {Path(p).resolve() for p in traversed}
    stop = {Path(p).resolve() for p in closed}
    skip = {Path(p).resolve() for p in left_alone}
    changed: list[str] = []

    def fix(path: Path, st: os.stat_result) -> None:
        mode = stat.S_IMODE(st.st_mode)
        wanted = mode & (0o7700 | (TRAVERSE if path in keep else 0))
        if wanted != mode:
            os.chmod(path, wanted)
            changed.append(f"{oct(mode)} -> {oct(wanted)} {path}")

    root = root.resolve()
    if not root.is_dir() or root in skip:
        return changed
    for top, dirs, files in os.walk(root):
        here = Path(top)
        fix(here, os.lstat(here))
        if here in stop and here != root:
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in files:
            path = here / name
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                fix(path, st)
    return changed
