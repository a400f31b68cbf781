"""Where the stack's Dovecot keeps its files (configuration, sockets, state, logs): known
here, below the stack that writes them and the relay that talks to its quota-status
socket."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailgothai.settings import Settings


@dataclass(frozen=True)
class DovecotPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def base_dir(self) -> Path:
        return self.root / "run"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def postlogin_script(self) -> Path:
        return self.root / "postlogin.sh"

    @property
    def postlogin_log(self) -> Path:
        return self.root / "postlogin.log"

    @property
    def postlogin_lock(self) -> Path:
        return self.root / "postlogin.lock"

    @property
    def sieve_dir(self) -> Path:
        """The operator's Sieve scripts (stack/sieve.py): root's, readable by the mail group."""
        return self.root / "sieve"

    @property
    def sieve_before_dir(self) -> Path:
        """Scripts run before every user's own, in file-name order (Pigeonhole's sieve_before)."""
        return self.sieve_dir / "before.d"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "master.pid"


def paths_for(settings: Settings) -> DovecotPaths:
    return DovecotPaths(settings.dovecot_config.parent.resolve())
