"""Telling the relay running for this data directory to look again (SIGUSR1): it forgets
its cached directory answers, rescans its spool and reloads the DKIM keys. Without it, all
three are re-read within seconds. The relay is found by its lock (relay/instance.py),
however it was started."""

from __future__ import annotations

import os
import signal

from mailgothai.relay.instance import running_pid
from mailgothai.settings import Settings


def notify_relay(settings: Settings) -> bool:
    """True if a running relay was told."""
    pid = running_pid(settings)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:  # it ended just now
        return False
    return True
