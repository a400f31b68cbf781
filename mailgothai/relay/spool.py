"""The durable spool. A message is accepted (250) only once it is on disk:

    spool/tmp/ID        written, fsynced, then renamed to
    spool/queue/ID.msg  one JSON line (the envelope) + the message; the queue
                        directory is fsynced before the relay answers 250.
    spool/queue/ID.state delivery progress, replaced atomically after each attempt.
    spool/queue/ID.done  the journal of deliveries, one record a line, appended (not
                        fsynced: see `record_delivered`) the moment each thing happens:
                          "> ADDR"  the message was handed to ADDR's destination (its
                                    data sent: from now on it may be stored there);
                          "ADDR"    the destination confirmed it (2xx): delivered;
                          "< ADDR"  the destination refused it: not delivered.
                        A recipient whose last record is "> ADDR" is *in flight*: when
                        the relay dies then, it may have been stored and will be
                        delivered again (`in_flight`); no other recipient can be.

A `.msg` file is never changed after it is renamed into place; a message is done
when its files are gone. At start, `recover` lists every `.msg` (leftovers in tmp/
never got a 250 and are removed).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mailgothai.durable import fsync_dir, write_synced


@dataclass(frozen=True)
class Target:
    address: str  # where it goes (a mailbox's primary address, or a remote address)
    original: str  # the RCPT TO it came from (for the DSN)
    local: bool
    # a local target's mailbox id (its account's entryUUID) when the message was accepted:
    # mail belongs to that account, wherever its address goes later (delivery.py); "" for
    # remote targets and messages spooled before this was recorded
    mailbox: str = ""


# The target of postmaster mail while no postmaster address is set anywhere (routing.py):
# the queue keeps it and hands it on once the operator sets `relay_postmaster`
# (delivery.py). Not an address: it has no @, so no recipient can name it.
HELD_FOR_POSTMASTER = "postmaster"


@dataclass(frozen=True)
class Envelope:
    queue_id: str
    sender: str  # "" for the null sender
    targets: tuple[Target, ...]
    received_at: float
    auth_user: str = ""
    client: str = ""
    is_bounce: bool = False  # a DSN we made: never bounced itself
    # accepted without AUTH, its sender's domain vouched for it (SPF, its DKIM or DMARC passed,
    # core/scan_results.sender_authenticated): a failure may be told to it (not backscatter)
    sender_verified: bool = False

    def to_json(self) -> bytes:
        data = {"queue_id": self.queue_id, "sender": self.sender,
                "targets": [{"address": t.address, "original": t.original, "local": t.local, "mailbox": t.mailbox}
                            for t in self.targets],
                "received_at": self.received_at, "auth_user": self.auth_user, "client": self.client,
                "is_bounce": self.is_bounce, "sender_verified": self.sender_verified}
        # what asdict() gives, built directly (once per message); older records lack the last field
        return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @classmethod
    def from_json(cls, line: bytes) -> Envelope:
        data = json.loads(line)
        data["targets"] = tuple(Target(**t) for t in data["targets"])
        return cls(**data)


@dataclass
class DeliveryState:
    attempts: int = 0
    next_try: float = 0.0
    done: list[str] = field(default_factory=list)  # delivered addresses
    failed: dict[str, str] = field(default_factory=dict)  # address -> final reply (already bounced)
    last_error: dict[str, str] = field(default_factory=dict)  # address -> last temporary reply

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> DeliveryState:
        return cls(**json.loads(data))


def new_queue_id() -> str:
    return f"{time.time_ns() // 1000:014x}{secrets.token_hex(4)}"


def received_at(queue_id: str) -> float:
    """When the message of `queue_id` was accepted (its id begins with the microseconds)."""
    try:
        return int(queue_id[:14], 16) / 1e6
    except ValueError:
        return time.time()


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.queue = root / "queue"

    def prepare(self) -> None:
        for d in (self.root, self.tmp, self.queue):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)

    def msg_path(self, queue_id: str) -> Path:
        return self.queue / f"{queue_id}.msg"

    def state_path(self, queue_id: str) -> Path:
        return self.queue / f"{queue_id}.state"

    def store(self, envelope: Envelope, message: bytes) -> None:
        """Write the message durably (file and directory fsynced). Blocking: call it
        from a worker thread."""
        tmp = self.tmp / envelope.queue_id
        write_synced(tmp, (envelope.to_json(), b"\n", message))
        os.replace(tmp, self.msg_path(envelope.queue_id))
        fsync_dir(self.queue)

    def load(self, queue_id: str) -> tuple[Envelope, bytes]:
        data = self.msg_path(queue_id).read_bytes()
        line, _, message = data.partition(b"\n")
        return Envelope.from_json(line), message

    def load_envelope(self, queue_id: str) -> Envelope:
        with open(self.msg_path(queue_id), "rb") as fh:
            return Envelope.from_json(fh.readline())

    def done_path(self, queue_id: str) -> Path:
        return self.queue / f"{queue_id}.done"

    def state(self, queue_id: str) -> DeliveryState:
        """The saved progress plus every recipient recorded as delivered since."""
        try:
            state = DeliveryState.from_json(self.state_path(queue_id).read_bytes())
        except FileNotFoundError:
            state = DeliveryState()
        state.done.extend(a for a in self.delivered(queue_id) if a not in state.done)
        return state

    def record_delivered(self, queue_id: str, addresses: Iterable[str]) -> None:
        """Note recipients as delivered, at once (one small append, called in the event
        loop the moment the reply is read, before the next one). Not fsynced: a killed
        relay cannot undo a write() that returned, and a power cut that loses it only
        delivers those recipients again — never loses a message."""
        self._append(queue_id, "", addresses)

    def record_handed(self, queue_id: str, addresses: Iterable[str]) -> None:
        """Note recipients whose destination is being given the message (just before its
        data is sent): in flight until `record_delivered` or `record_refused`."""
        self._append(queue_id, "> ", addresses)

    def record_refused(self, queue_id: str, addresses: Iterable[str]) -> None:
        """Note recipients whose destination answered the data with a refusal."""
        self._append(queue_id, "< ", addresses)

    def _append(self, queue_id: str, mark: str, addresses: Iterable[str]) -> None:
        data = "".join(f"{mark}{a}\n" for a in addresses).encode("utf-8")
        if not data:
            return
        fd = os.open(self.done_path(queue_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)  # one write: a record is whole or (unfinished line) ignored
        finally:
            os.close(fd)

    def _journal(self, queue_id: str) -> list[str]:
        try:
            text = self.done_path(queue_id).read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [line for line in text.split("\n")[:-1] if line]  # the last piece is "" or unfinished

    def delivered(self, queue_id: str) -> list[str]:
        """Recipients recorded by `record_delivered` (complete lines only)."""
        return [line for line in self._journal(queue_id) if line[0] not in "<>"]

    def in_flight(self, queue_id: str) -> list[str]:
        """Recipients whose last record is "handed": the message's data had gone to their
        destination and no answer was recorded (a relay killed now may deliver them twice)."""
        last: dict[str, str] = {}
        for line in self._journal(queue_id):
            mark = line[0] if line[0] in "<>" else ""
            last[line[2:] if mark else line] = mark
        return [address for address, mark in last.items() if mark == ">"]

    def save_state(self, queue_id: str, state: DeliveryState) -> None:
        path = self.state_path(queue_id)
        tmp = self.tmp / f"{queue_id}.state"
        write_synced(tmp, (state.to_json(),))
        os.replace(tmp, path)

    def remove(self, queue_id: str) -> None:
        """Done: the message goes first, so a crash in between leaves only progress
        files, which `recover` removes."""
        self.msg_path(queue_id).unlink(missing_ok=True)
        self.done_path(queue_id).unlink(missing_ok=True)
        self.state_path(queue_id).unlink(missing_ok=True)

    def recover(self) -> list[str]:
        """Queue ids on disk, oldest first; removes writes that never completed."""
        self.prepare()
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
        ids = []
        for path in self.queue.iterdir():
            if path.suffix == ".msg":
                ids.append(path.stem)
            elif path.suffix in (".state", ".done") and not self.msg_path(path.stem).exists():
                path.unlink(missing_ok=True)
        return sorted(ids)

    def retry_now(self, queue_id: str) -> bool:
        """Make a queued message due now (`queue retry`). False when it is not in the queue
        (delivered or deleted meanwhile): then no progress file is left behind for it."""
        if not self.msg_path(queue_id).exists():
            return False
        state = self.state(queue_id)
        state.next_try = 0.0
        self.save_state(queue_id, state)
        if not self.msg_path(queue_id).exists():  # the relay finished it in between
            self.state_path(queue_id).unlink(missing_ok=True)
            return False
        return True

    def iter_ids(self) -> Iterator[str]:
        if not self.queue.is_dir():
            return
        for path in sorted(self.queue.iterdir()):
            if path.suffix == ".msg":
                yield path.stem

    def summary(self) -> dict[str, Any]:
        ids = list(self.iter_ids())
        oldest = None
        if ids:
            try:
                oldest = self.load_envelope(ids[0]).received_at
            except (OSError, ValueError):
                oldest = None
        return {"messages": len(ids), "oldest_received_at": oldest}
