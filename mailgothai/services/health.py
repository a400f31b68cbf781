"""Is each component reachable? For the health endpoint and the error pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mailgothai.errors import MailGoThaiError
from mailgothai.probes import greeting
from mailgothai.services.backends import Backends


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    ms: float


def _timed(name: str, probe: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except (MailGoThaiError, OSError, Exception) as exc:  # noqa: BLE001 - a health probe reports, never raises
        ok, detail = False, str(exc) or type(exc).__name__
    return Check(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def check_all(backends: Backends) -> list[Check]:
    settings = backends.settings

    def directory() -> str:
        if backends.gateway.read(backends.layout.domains, ["ou"]) is None:
            raise MailGoThaiError("the directory answers but has no domains folder")
        return backends.gateway.current_uri

    def dovecot() -> str:
        if not greeting(settings.host, settings.imap_port, b"* OK", timeout=2.0):
            raise MailGoThaiError(f"no IMAP greeting from {settings.host}:{settings.imap_port}")
        return f"imap {settings.host}:{settings.imap_port}"

    return [_timed("directory", directory), _timed("dovecot", dovecot), _timed("sql", backends.store.ping)]
