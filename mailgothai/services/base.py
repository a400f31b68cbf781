"""What every service shares: its backends, its actor, and the audit record."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Self

from mailgothai.core.models import Role
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


class SelfServable(Service):
    """A service a mail user may be given too, for their own things only (the web's
    self-service, `of_user`): then the actor administers no domain and `_self_email` is
    that user's address, which the service's own checks compare with."""

    def __init__(self, backends: Backends, actor: Actor, *, self_email: str | None = None) -> None:
        super().__init__(backends, actor)
        self._self_email = self_email.lower() if self_email else None

    @classmethod
    def of_user(cls, backends: Backends, email: str) -> Self:
        return cls(backends, Actor(login=email, role=Role.DOMAIN_ADMIN, origin="web-self"), self_email=email)
