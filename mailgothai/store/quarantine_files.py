"""The quarantine's files (issue 18): one per kept message, `QUARANTINE/ID`, the message's
bytes exactly as the relay would have delivered them. The directory is owner-only (0700),
each file 0600, written through a temporary name, fsynced, renamed and the directory
fsynced, before the relay answers 250. The relay writes and removes them; the services
read them (a preview, teaching rspamd) where the web runs beside that relay."""

from __future__ import annotations

import os
from pathlib import Path

from mailgothai.core.quarantine import MESSAGE_ID
from mailgothai.durable import fsync_dir, write_synced


class QuarantineFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.root.stat().st_mode & 0o077:
            os.chmod(self.root, 0o700)

    def path(self, message_id: str) -> Path:
        if not MESSAGE_ID.fullmatch(message_id):
            raise ValueError(f"not a quarantine id: {message_id!r}")
        return self.root / message_id

    def write(self, message_id: str, message: bytes) -> None:
        """Durably (file and directory fsynced). Blocking."""
        self.prepare()
        final = self.path(message_id)
        tmp = self.root / f".{message_id}.tmp"
        write_synced(tmp, (message,), follow_links=False)
        os.replace(tmp, final)
        fsync_dir(self.root)

    def read(self, message_id: str) -> bytes | None:
        """The message, or None where this machine keeps no such file."""
        try:
            return self.path(message_id).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def remove(self, message_id: str) -> bool:
        try:
            self.path(message_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def ids(self) -> list[str]:
        """The ids of the files here (leftover temporary files left out)."""
        if not self.root.is_dir():
            return []
        return sorted(name for name in os.listdir(self.root) if MESSAGE_ID.fullmatch(name))

    def leftovers(self) -> list[Path]:
        """Temporary files of writes that never finished."""
        if not self.root.is_dir():
            return []
        return [self.root / name for name in os.listdir(self.root) if name.endswith(".tmp")]
