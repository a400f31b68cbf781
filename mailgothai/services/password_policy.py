"""Password policies (issue 20): the operator's floor and each domain's own policy, and
the check every place that sets a mail user's password goes through.

Who may do what: the operator sets the floor (within what any policy may say) and any
domain's policy; a domain admin reads the floor and sets its own domains' policies, each
field at least as strict as the floor (another domain is not found). Every change leaves
an audit record.

`policy_for` and `require_strong` are what the account service, the self-service and
the import use: the domain's effective policy (its own made at least as strict as the
floor), and the check of one password against it and the account's address and names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.models import Account, Role
from mailgothai.core.password_policy import (
    PasswordPolicy,
    Person,
    check_tightens,
    policy_data,
    policy_with,
    require,
    strictest,
)
from mailgothai.core.spam_records import Changed
from mailgothai.errors import MailGoThaiError
from mailgothai.services import ports
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service


def policy_for(backends: Backends, domain: str) -> PasswordPolicy:
    """What a new password in `domain` must meet (the built-in floor without the store)."""
    store = backends.password_policies
    return store.effective(domain) if store is not None else PasswordPolicy()


def person_of(account: Account) -> Person:
    return Person(account.email, account.given_name, account.surname, account.display_name)


def require_strong(backends: Backends, plain: str, account: Account, field: str = "password") -> None:
    """InvalidInput(field, the first reason) unless `plain` meets the account's domain's policy."""
    require(plain, policy_for(backends, account.domain), person_of(account), field)


@dataclass(frozen=True)
class DomainPasswordPolicy:
    domain: str
    policy: PasswordPolicy  # what the domain's passwords are checked against
    own: bool  # False: the domain follows the floor
    changed: Changed | None
    floor: PasswordPolicy

    def as_dict(self) -> dict[str, object]:
        return {"domain": self.domain, **policy_data(self.policy), "own": self.own,
                "changed_at": self.changed.at.isoformat() if self.changed else None,
                "changed_by": self.changed.by if self.changed else None, "floor": policy_data(self.floor)}


@dataclass(frozen=True)
class Floor:
    policy: PasswordPolicy
    changed: Changed | None

    def as_dict(self) -> dict[str, object]:
        return {**policy_data(self.policy), "changed_at": self.changed.at.isoformat() if self.changed else None,
                "changed_by": self.changed.by if self.changed else None}


class PasswordPolicyService(Service):
    @property
    def _store(self) -> ports.PasswordPolicies:
        store = self.b.password_policies
        if store is None:
            raise MailGoThaiError("password policies are not available with these backends")
        return store

    def _domain(self, domain: str) -> str:
        name = normalize_domain(domain)
        self.actor.require_domain(name)
        return self.b.domains.get(name).name

    # ---- a domain's policy ------------------------------------------------------------
    def show(self, domain: str) -> DomainPasswordPolicy:
        name = self._domain(domain)
        own = self._store.own_policy(name)
        floor, _ = self._store.floor()
        return DomainPasswordPolicy(name, strictest(own[0] if own else None, floor), own is not None,
                                    own[1] if own else None, floor)

    def set(self, domain: str, changes: Mapping[str, object]) -> DomainPasswordPolicy:
        """Change the fields given (the others stay as the domain has them now); every
        field at least as strict as the floor — for the operator too: the floor is the
        floor of every domain. Nothing is stored on an error."""
        current = self.show(domain)
        policy = check_tightens(policy_with(current.policy, changes), current.floor)
        self._store.set_policy(current.domain, policy, self.actor.login)
        self.audit("password.policy.set", "domain", current.domain, current.domain,
                   before=policy_data(current.policy) if current.own else None, after=policy_data(policy))
        return self.show(current.domain)

    def reset(self, domain: str) -> DomainPasswordPolicy:
        """The domain follows the floor again."""
        current = self.show(domain)
        if self._store.drop_policy(current.domain):
            self.audit("password.policy.reset", "domain", current.domain, current.domain,
                       before=policy_data(current.policy))
        return self.show(current.domain)

    # ---- the operator's floor -----------------------------------------------------------
    def floor(self) -> Floor:
        """Any admin may read it (a domain admin sees what its domains cannot go below)."""
        return Floor(*self._store.floor())

    def set_floor(self, changes: Mapping[str, object]) -> Floor:
        self.actor.require_superadmin()
        before = self.floor()
        policy = policy_with(before.policy, changes)
        self._store.set_floor(policy, self.actor.login)
        self.audit("password.floor.set", "settings", "password_floor", None,
                   before=policy_data(before.policy), after=policy_data(policy))
        return self.floor()

    @property
    def is_operator(self) -> bool:
        return self.actor.role is Role.SUPERADMIN
