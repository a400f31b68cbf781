"""In-memory stand-ins for the quarantine's ports (services/ports.py): the index, the kept
messages' bytes, and rspamd's controller."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mailgothai.core.quarantine import Held, Recipient, State


class FakeQuarantine:
    def __init__(self) -> None:
        self.messages: dict[str, Held] = {}
        self._next = 1

    def add(self, held: Held) -> Held:
        """Stored with recipient ids given, as the SQL store does."""
        recipients = []
        for r in held.recipients:
            recipients.append(replace(r, id=self._next))
            self._next += 1
        stored = held.only(tuple(recipients))
        self.messages[held.id] = stored
        return stored

    def page(self, *, domains: Sequence[str] | None = None, address: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Held]:
        out = []
        for held in sorted(self.messages.values(), key=lambda h: (-h.received_at.timestamp(), h.id)):
            rows = tuple(r for r in held.recipients if (address is None or r.address == address)
                         and (domains is None or r.domain in domains))
            if rows:
                out.append(held.only(rows))
        return out[offset:offset + limit]

    def get(self, message_id: str) -> Held | None:
        return self.messages.get(message_id)

    def move(self, message_id: str, recipient_ids: Sequence[int], to: State, by: str) -> list[int]:
        held = self.messages.get(message_id)
        if held is None:
            return []
        moved: list[int] = []
        rows: list[Recipient] = []
        for r in held.recipients:
            if r.id in recipient_ids and r.state is State.HELD:
                r = replace(r, state=to, released_by=by)
                moved.append(r.id)
            rows.append(r)
        self.messages[message_id] = held.only(tuple(rows))
        return moved


    def drop_address(self, address: str) -> int:
        gone = 0
        for held_id, held in list(self.messages.items()):
            rows = tuple(r for r in held.recipients if r.address != address)
            gone += len(held.recipients) - len(rows)
            self.messages[held_id] = held.only(rows)
        return gone

    def move_address(self, old: str, new: str) -> int:
        moved = 0
        for held_id, held in list(self.messages.items()):
            rows = tuple(replace(r, address=new) if r.address == old else r for r in held.recipients)
            moved += sum(r.address == old for r in held.recipients)
            self.messages[held_id] = held.only(rows)
        return moved


class FakeHeldMessages:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read(self, message_id: str) -> bytes | None:
        return self.files.get(message_id)


class FakeLearner:
    def __init__(self) -> None:
        self.learned: list[tuple[bool, bytes]] = []

    def learn(self, spam: bool, message: bytes) -> None:
        self.learned.append((spam, message))
