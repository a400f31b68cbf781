"""All services for one actor, over one set of backends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mailgothai.core.models import Role
from mailgothai.services.accounts import AccountService
from mailgothai.services.actor import Actor
from mailgothai.services.admins import AdminService
from mailgothai.services.aliases import AliasService
from mailgothai.services.backends import Backends
from mailgothai.services.dkim import DkimService
from mailgothai.services.domains import DomainService
from mailgothai.services.holds import HoldService
from mailgothai.services.lifecycle import LifecycleService
from mailgothai.services.purge import PurgeService
from mailgothai.settings import Settings


class Services:
    def __init__(self, backends: Backends, actor: Actor) -> None:
        if actor.role is Role.DOMAIN_ADMIN:
            backends = backends.acting_for(actor.login)
        self.backends = backends
        self.actor = actor
        self.domains = DomainService(backends, actor)
        self.accounts = AccountService(backends, actor)
        self.aliases = AliasService(backends, actor)
        self.admins = AdminService(backends, actor)
        self.dkim = DkimService(backends, actor)
        self.lifecycle = LifecycleService(backends, actor)
        self.holds = HoldService(backends, actor)
        self.purge = PurgeService(backends, actor)

    @classmethod
    @contextlib.contextmanager
    def open(cls, settings: Settings, actor: Actor) -> Iterator[Services]:
        backends = Backends.open(settings)
        try:
            yield cls(backends, actor)
        finally:
            backends.close()
