"""The relay's view of the DKIM keys: which keys sign for a domain, and the published
records of hosted domains (to check mail that claims one of them without DNS).
Refreshed from the SQL store every `refresh` seconds; due switches and retirements
are applied at each refresh."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from mailgothai.core.dkim import dns_name
from mailgothai.dkim.keys import KeyFiles
from mailgothai.dkim.schedule import advance
from mailgothai.dkim.signer import SigningKey
from mailgothai.errors import MailGoThaiError
from mailgothai.store.relay_state import DkimKeyRecords, KeyState

log = logging.getLogger("mailgothai.relay")


class KeyTable:
    def __init__(self, records: DkimKeyRecords, files: KeyFiles, retire_delay: int, refresh: float = 10.0) -> None:
        self._records = records
        self._files = files
        self._retire_delay = retire_delay
        self._refresh = refresh
        self._lock = threading.Lock()
        self._loaded_at = -1e18
        self._signing: dict[str, list[SigningKey]] = {}
        self._published: dict[str, bytes] = {}
        self._key_cache: dict[tuple[str, str], SigningKey] = {}

    def reload(self) -> None:
        """Blocking (SQL and key files): call from a worker thread."""
        try:
            advance(self._records, self._files, datetime.now(UTC), self._retire_delay)
            live = self._records.all_live()
        except MailGoThaiError as exc:
            log.warning("DKIM key table not refreshed: %s", exc)
            return
        signing: dict[str, list[SigningKey]] = {}
        published: dict[str, bytes] = {}
        for key in live:
            published[dns_name(key.selector, key.domain)] = key.public_record.encode("ascii")
            if key.state is not KeyState.ACTIVE:
                continue
            cached = self._key_cache.get((key.domain, key.selector))
            if cached is None:
                try:
                    pair = self._files.load(key.domain, key.selector, key.algorithm)
                    cached = SigningKey(key.domain, key.selector, key.algorithm, pair.load())
                except MailGoThaiError as exc:
                    log.error("DKIM key %s of %s cannot be used: %s", key.selector, key.domain, exc)
                    continue
                self._key_cache[(key.domain, key.selector)] = cached
            signing.setdefault(key.domain, []).append(cached)
        with self._lock:
            self._signing, self._published = signing, published
            self._loaded_at = time.monotonic()

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._refresh

    def signing_keys(self, domain: str) -> list[SigningKey]:
        with self._lock:
            return list(self._signing.get(domain, ()))

    def published(self, name: str) -> bytes | None:
        """The TXT record of a hosted domain's key (pending, active or retiring)."""
        with self._lock:
            return self._published.get(name.rstrip(".").lower())
