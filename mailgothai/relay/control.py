"""Telling a running relay of this data directory to look again (SIGUSR1): it forgets its
cached directory answers, rescans its spool and reloads the DKIM keys. Without it, all
three are re-read within seconds."""

from __future__ import annotations

import os
import signal

from mailgothai.settings import Settings


def notify_relay(settings: Settings) -> bool:
    from mailgothai.stack.manager import RELAY

    status = RELAY.status(settings)
    if status.running and status.pid:
        os.kill(status.pid, signal.SIGUSR1)
        return True
    return False
