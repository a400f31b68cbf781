"""All services for one actor, over one set of backends. Each service is built (and its
module imported) the first time it is used: a CLI command pays only for what it needs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.backends import Backends
from mailgothai.settings import Settings

if TYPE_CHECKING:
    from mailgothai.services.accounts import AccountService
    from mailgothai.services.admins import AdminService
    from mailgothai.services.aliases import AliasService
    from mailgothai.services.dkim import DkimService
    from mailgothai.services.dns_check import DnsCheckService
    from mailgothai.services.domain_routing import DomainRoutingService
    from mailgothai.services.domains import DomainService
    from mailgothai.services.filters import Filters
    from mailgothai.services.holds import HoldService
    from mailgothai.services.last_login import LastLoginService
    from mailgothai.services.lifecycle import LifecycleService
    from mailgothai.services.purge import PurgeService
    from mailgothai.services.quarantine import QuarantineService
    from mailgothai.services.shared import SharedMailboxService
    from mailgothai.services.spam_policy import SpamPolicyService
    from mailgothai.services.vacation import VacationService


class Services:
    def __init__(self, backends: Backends, actor: Actor) -> None:
        if actor.role is Role.DOMAIN_ADMIN:
            backends = backends.acting_for(actor.login)
        self.backends = backends
        self.actor = actor

    @cached_property
    def domains(self) -> DomainService:
        from mailgothai.services.domains import DomainService

        return DomainService(self.backends, self.actor)

    @cached_property
    def domain_routing(self) -> DomainRoutingService:
        from mailgothai.services.domain_routing import DomainRoutingService

        return DomainRoutingService(self.backends, self.actor)

    @cached_property
    def accounts(self) -> AccountService:
        from mailgothai.services.accounts import AccountService

        return AccountService(self.backends, self.actor)

    @cached_property
    def filters(self) -> Filters:
        from mailgothai.services.filters import Filters

        return Filters(self.backends, self.actor)

    @cached_property
    def aliases(self) -> AliasService:
        from mailgothai.services.aliases import AliasService

        return AliasService(self.backends, self.actor)

    @cached_property
    def admins(self) -> AdminService:
        from mailgothai.services.admins import AdminService

        return AdminService(self.backends, self.actor)

    @cached_property
    def dkim(self) -> DkimService:
        from mailgothai.services.dkim import DkimService

        return DkimService(self.backends, self.actor)

    @cached_property
    def dns(self) -> DnsCheckService:
        from mailgothai.services.dns_check import DnsCheckService

        return DnsCheckService(self.backends, self.actor)

    @cached_property
    def lifecycle(self) -> LifecycleService:
        from mailgothai.services.lifecycle import LifecycleService

        return LifecycleService(self.backends, self.actor)

    @cached_property
    def last_login(self) -> LastLoginService:
        from mailgothai.services.last_login import LastLoginService

        return LastLoginService(self.backends, self.actor)

    @cached_property
    def holds(self) -> HoldService:
        from mailgothai.services.holds import HoldService

        return HoldService(self.backends, self.actor)

    @cached_property
    def purge(self) -> PurgeService:
        from mailgothai.services.purge import PurgeService

        return PurgeService(self.backends, self.actor)

    @cached_property
    def shared(self) -> SharedMailboxService:
        from mailgothai.services.shared import SharedMailboxService

        return SharedMailboxService(self.backends, self.actor)

    @cached_property
    def spam(self) -> SpamPolicyService:
        from mailgothai.services.spam_policy import SpamPolicyService

        return SpamPolicyService(self.backends, self.actor)

    @cached_property
    def quarantine(self) -> QuarantineService:
        from mailgothai.services.quarantine import QuarantineService

        return QuarantineService(self.backends, self.actor)

    @cached_property
    def vacation(self) -> VacationService:
        from mailgothai.services.vacation import VacationService

        return VacationService(self.backends, self.actor)

    @classmethod
    @contextlib.contextmanager
    def open(cls, settings: Settings, actor: Actor) -> Iterator[Services]:
        backends = Backends.open(settings)
        try:
            yield cls(backends, actor)
        finally:
            backends.close()
