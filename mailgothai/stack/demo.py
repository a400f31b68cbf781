"""A small demo data set for `stack up --demo`: two agencies, a few people, an operator.

Added once: a second run finds the demo domain and leaves everything as it is.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.password_lifecycle import PasswordLifecycleService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings

DOMAINS = (
    ("demo-moph.go.th", "กระทรวงสาธารณสุข (สาธิต)", "200", "100G", "2G"),
    ("demo-krabi.go.th", "ศาลากลางจังหวัดกระบี่ (สาธิต)", "50", "20G", "1G"),
)
PEOPLE = (
    ("somchai.s@demo-moph.go.th", "สมชาย", "ศรีสุข", "สมชาย ศรีสุข"),
    ("malee.t@demo-moph.go.th", "มาลี", "ทองดี", "มาลี ทองดี"),
    ("anan.k@demo-krabi.go.th", "อนันต์", "คงแก้ว", "อนันต์ คงแก้ว"),
)


@dataclass(frozen=True)
class DemoLogin:
    login: str
    password: str
    kind: str  # "imap" or "admin"


def seed(settings: Settings) -> list[DemoLogin]:
    """Create the demo data; returns the logins created now (empty if it existed)."""
    actor = Actor("stack-demo", Role.SUPERADMIN, origin="stack")
    created: list[DemoLogin] = []
    with Services.open(settings, actor) as services:
        if services.backends.domains.find(DOMAINS[0][0]) is not None:
            return created
        lifecycle = PasswordLifecycleService(services.backends, services.actor)
        for name, description, max_accounts, pool, default_quota in DOMAINS:
            services.domains.add(name, description=description, max_accounts=max_accounts,
                                 quota_pool=pool, default_quota=default_quota)
            # The logins printed below are for trying the service at once from a mail client;
            # a real agency keeps "change a generated password at first login" (issue 20).
            lifecycle.set(name, {"must_change_generated": False}, datetime.now(UTC))
        for email, given, surname, display in PEOPLE:
            new = services.accounts.add(email, PasswordInput(generate=True), given_name=given, surname=surname,
                                        display_name=display)  # drawn to meet the domain's password policy
            assert new.generated_password is not None
            created.append(DemoLogin(email, new.generated_password, "imap"))
        services.aliases.add("helpdesk@demo-moph.go.th", (PEOPLE[0][0], PEOPLE[1][0]))
        admin_password = "Admin-" + secrets.token_urlsafe(9)
        services.admins.add("operator", Role.SUPERADMIN, PasswordInput(plain=admin_password),
                            display_name="Demo operator")
        created.append(DemoLogin("operator", admin_password, "admin"))
    return created
