"""Who is acting, and what they may reach."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

from mailgothai.core.models import Admin, Role
from mailgothai.core.reasons import Why
from mailgothai.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class Actor:
    login: str
    role: Role
    domains: frozenset[str] = field(default_factory=frozenset)
    origin: str = "cli"

    def may_manage(self, domain: str) -> bool:
        return self.role is Role.SUPERADMIN or domain.lower() in self.domains

    def require_domain(self, domain: str) -> None:
        """Domain admins outside their domains get NotFound: existence does not leak."""
        if not self.may_manage(domain):
            raise NotFound("domain", domain)

    def require_superadmin(self) -> None:
        if self.role is not Role.SUPERADMIN:
            raise PermissionDenied(Why.OPERATOR_ONLY())


def admin_actor(admin: Admin, origin: str) -> Actor:
    """The actor for a logged-in administrator (web, API)."""
    return Actor(login=admin.login, role=admin.role, domains=frozenset(d.lower() for d in admin.domains), origin=origin)


def cli_operator() -> Actor:
    """Whoever runs the CLI on the server holds the keys (the settings file): an operator."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(login=f"cli:{user}", role=Role.SUPERADMIN, origin="cli")
