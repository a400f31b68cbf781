"""Room in a mailbox confirmed ahead: the bookkeeping behind the relay's quota questions
(no I/O; `relay/quota.py` asks Dovecot).

Each question to Dovecot's quota-status costs it a user setup, as much CPU as a
delivery. So the relay asks whether a mailbox could take the message plus a margin;
when it can, later messages to that mailbox are accepted against that margin without
asking, for `seconds` at most and only while the account's directory entry is unchanged
(its entryCSN: a new quota ends the grant at once). Every message accepted since the
question counts against the margin, delivered or not, so what is accepted never exceeds
what Dovecot confirmed. A mailbox without that much room is asked exactly, message by
message, for the same while.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_MAILBOXES = 100_000  # remembered; expired grants are dropped when this is reached


@dataclass
class Grant:
    version: str  # the account entry's entryCSN when Dovecot was asked
    asked: int  # bytes Dovecot is asked to confirm beyond its usage: message + queued + margin
    used: int  # bytes counted against it since (queued then + accepted since)
    until: float  # clock time it ends
    room: int = 0  # `asked` once Dovecot confirmed it; 0: not (yet) confirmed, ask exactly


class RoomGrants:
    def __init__(self, margin: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._margin = margin if seconds > 0 else 0
        self._seconds = seconds
        self._clock = clock
        self._grants: dict[str, Grant] = {}

    def _live(self, address: str, version: str) -> Grant | None:
        grant = self._grants.get(address)
        if grant is None or grant.until <= self._clock() or grant.version != version:
            return None
        return grant

    def covered(self, address: str, size: int, version: str) -> bool:
        """True when `size` more bytes fit in what Dovecot confirmed: no question needed."""
        grant = self._live(address, version)
        return grant is not None and grant.room > 0 and grant.used + size <= grant.room

    def open(self, address: str, size: int, pending: int, version: str) -> Grant | None:
        """A new grant to ask Dovecot about (`asked` bytes), in place at once so that
        messages accepted meanwhile count against it; None when the mailbox is to be
        asked exactly (grants off, or a recent question found too little room)."""
        if not self._margin:
            return None
        grant = self._live(address, version)
        if grant is not None and grant.room == 0:
            return None
        now = self._clock()
        if len(self._grants) >= MAX_MAILBOXES:
            self._grants = {a: g for a, g in self._grants.items() if g.until > now}
            if len(self._grants) >= MAX_MAILBOXES:
                self._grants.clear()
        grant = self._grants[address] = Grant(version, size + pending + self._margin, pending, now + self._seconds)
        return grant

    def accepted(self, address: str, size: int) -> None:
        """A message of `size` bytes for this mailbox was accepted."""
        grant = self._grants.get(address)
        if grant is not None:
            grant.used += size
