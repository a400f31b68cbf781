"""The last use of each app password (issue 20), recorded off the login's path.

Who reports: the auth policy service for IMAP (Dovecot's report of a successful login
carries the fingerprint of the password it took: `%{hashed_password}`,
deploy/dovecot/auth-policy.conf.in) and the relay for SMTP AUTH (it has the password and
computes the same fingerprint: core/app_passwords.fingerprint). `record` only keeps the
newest use per (account, fingerprint) in memory; a thread writes every `every` seconds:
one directory search gives the batch's accounts' app passwords, a fingerprint that is
none of them (the main password) is dropped, the rest go to SQL in one transaction. A
process that crashes loses the uses of its last `every` seconds at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from mailgothai.core.app_passwords import AppPassword, matching
from mailgothai.errors import MailGoThaiError
from mailgothai.store.second_factor import AppPasswordUses

log = logging.getLogger(__name__)
MAX_PENDING = 100_000

Lookup = Callable[[list[str]], dict[str, list[AppPassword]]]


class AppUseRecorder:
    def __init__(self, uses: AppPasswordUses, lookup: Lookup, *, every: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._uses = uses
        self._lookup = lookup
        self.every = every
        self._clock = clock
        self._pending: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, login: str, fingerprint: str, protocol: str, remote: str) -> None:
        """A successful login with a password of this fingerprint (no I/O)."""
        key = (login.strip().lower(), fingerprint.strip().lower())
        if "@" not in key[0] or not key[1]:
            return
        with self._lock:
            if len(self._pending) < MAX_PENDING or key in self._pending:
                self._pending[key] = (self._clock(), protocol, remote.strip()[:64])

    def flush(self) -> int:
        """Write what waits; returns how many app password uses were written."""
        with self._lock:
            taken, self._pending = self._pending, {}
        if not taken:
            return 0
        try:
            apps = self._lookup(sorted({login for login, _ in taken}))
            rows: list[tuple[str, str, datetime, str, str]] = []
            for (login, fingerprint), (at, protocol, remote) in taken.items():
                app = matching(apps.get(login, []), fingerprint)
                if app is not None:
                    rows.append((login, app.id, datetime.fromtimestamp(at, UTC), protocol, remote))
            if rows:
                self._uses.record(rows)
            return len(rows)
        except MailGoThaiError as exc:
            log.warning("app password uses not written yet (%d waiting): %s", len(taken), exc)
            with self._lock:
                for key, value in taken.items():
                    self._pending.setdefault(key, value)
            return 0

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="app-use-writer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must survive a bad moment of any backend
                log.exception("writing app password uses failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - shutting down: say so
            log.exception("writing app password uses at shutdown failed")
