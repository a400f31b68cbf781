"""What every service shares: its backends, its actor, and the audit record."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends


def snapshot(value: Any) -> dict[str, Any] | None:
    """A dataclass as a plain dict for the audit log (enums as their values); a dict as it is."""
    if value is None or isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in dataclasses.asdict(value).items():
        if isinstance(item, enum.Enum):
            item = item.value
        elif isinstance(item, dict):
            item = {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in item.items()}
        out[key] = item
    return out


class Service:
    def __init__(self, backends: Backends, actor: Actor) -> None:
        self.b = backends
        self.actor = actor

    def audit(self, action: str, object_type: str, object_id: str, domain: str | None,
              before: Any = None, after: Any = None) -> None:
        self.b.audit.record(
            actor=self.actor.login, origin=self.actor.origin, action=action, object_type=object_type,
            object_id=object_id, domain=domain, before=snapshot(before), after=snapshot(after),
        )
