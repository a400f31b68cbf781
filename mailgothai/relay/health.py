"""The relay's health: its process, its listeners, Dovecot's LMTP, rspamd (with
protection = 1), and the spool."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mailgothai.probes import greeting
from mailgothai.relay.rspamd import ping
from mailgothai.relay.spool import Spool
from mailgothai.running_relay import running_pid
from mailgothai.settings import Settings


@dataclass(frozen=True)
class Health:
    checks: dict[str, bool]
    queue: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(self.checks.values())

    @property
    def oldest_age(self) -> float | None:
        oldest = self.queue.get("oldest_received_at")
        return None if oldest is None else time.time() - oldest

    def as_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "checks": self.checks,
                "queue": {**self.queue, "oldest_age_s": self.oldest_age}}


def check(settings: Settings) -> Health:
    checks = {"process": running_pid(settings) is not None,
              "smtp": greeting(settings.host, settings.smtp_port, b"220"),
              "submission": greeting(settings.host, settings.submission_port, b"220")}
    if settings.smtps_port:
        checks["smtps"] = _tls_greeting(settings.host, settings.smtps_port)
    checks["lmtp"] = greeting(settings.host, settings.lmtp_port, b"220")
    if settings.protection:  # the relay refuses mail from outside (451) while rspamd cannot answer
        checks["rspamd"] = ping(settings.host, settings.rspamd_port)
    return Health(checks, Spool(settings.spool_dir.resolve()).summary())


def _tls_greeting(host: str, port: int) -> bool:
    import socket
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=2) as raw, \
                context.wrap_socket(raw, server_hostname=host) as sock:
            sock.settimeout(2)
            return sock.recv(256).startswith(b"220")
    except OSError:
        return False
