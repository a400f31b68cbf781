"""How a password arrives (plain, pre-hashed, or to be generated) and becomes a stored
hash, and how a hash from an older system becomes argon2id at a login."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from mailgothai.core.password_policy import PasswordPolicy, Person, generate_for, require
from mailgothai.core.passwords import (
    Argon2Params,
    check_password_policy,
    generate_password,
    hash_password,
    validate_stored_hash,
)
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

if TYPE_CHECKING:  # only for the annotation: importing it would load SQLAlchemy here
    from mailgothai.services.backends import Backends


@dataclass(frozen=True)
class PasswordInput:
    """Exactly one of: a plain password, a stored hash from an older system, or generate."""

    plain: str | None = None
    stored_hash: str | None = None
    generate: bool = False

    def __repr__(self) -> str:
        return f"PasswordInput(generate={self.generate})"


def resolve_password(password: PasswordInput, params: Argon2Params, *, allow_hash: bool = True,
                     policy: PasswordPolicy | None = None, person: Person | None = None) -> tuple[str, str | None]:
    """(hash to store, generated plain password or None). With a `policy` (a mail user's
    domain's, services/password_policy.py), a plain password must meet it for `person`,
    and a generated one is drawn to meet it; a stored hash cannot be checked."""
    given = [password.plain is not None, password.stored_hash is not None, password.generate]
    if sum(given) != 1 or (password.stored_hash is not None and not allow_hash):
        choices = "a password, a password hash, or generate" if allow_hash else "a password or generate"
        raise InvalidInput("password", Why.EXACTLY_ONE_OF(choices=choices))
    if password.generate:
        plain = generate_password() if policy is None else generate_for(policy, person)
        return hash_password(plain, params), plain
    if password.stored_hash is not None:
        return validate_stored_hash(password.stored_hash), None
    assert password.plain is not None
    if policy is None:
        check_password_policy(password.plain)
    else:
        require(password.plain, policy, person)
    return hash_password(password.plain, params), None


def upgrade_at_login(backends: Backends, email: str, password: str) -> bool:
    """After a successful login with `password`: an imported hash from an older system
    becomes argon2id (DESIGN), written by the account itself, so a wrong password changes
    nothing; Dovecot forgets its cached lookup, which still carries the mark. Not audited:
    the password stays the same. True if a hash was replaced."""
    hasher = partial(hash_password, params=backends.argon2)
    upgraded = backends.accounts.upgrade_legacy_hash(email, password, hasher)
    if upgraded:
        from mailgothai.services.domain_routing import login_names

        backends.doveadm.flush_auth_cache(login_names(backends, [email]))
    return upgraded
