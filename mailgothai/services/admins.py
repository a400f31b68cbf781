"""Administrators: operators (superadmin) and domain admins scoped to their domains."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.models import Admin, Role, Status
from mailgothai.core.passwords import check_password_policy
from mailgothai.core.reasons import Why
from mailgothai.core.text import check_text
from mailgothai.errors import InvalidInput
from mailgothai.services.base import Service
from mailgothai.services.passwords import PasswordInput, resolve_password
from mailgothai.services.reauth import reauthenticate_admin
from mailgothai.services.sessions import token_hash
from mailgothai.services.tokens import TokenService
from mailgothai.store.totp import TotpRecords
from mailgothai.store.web_sessions import SessionRecords

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


def normalize_login(text: str) -> str:
    login = text.strip().lower()
    if not LOGIN.match(login):
        raise InvalidInput("login", Why.LOGIN_SHAPE())
    return login


class AdminService(Service):
    def add(self, login: str, role: str | Role, password: PasswordInput, *, domains: tuple[str, ...] = (),
            display_name: str = "") -> tuple[Admin, str | None]:
        self.actor.require_superadmin()
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInput("role", Why.NOT_A_ROLE(value=repr(role))) from None
        names = self._domains(role, domains)
        admin = Admin(normalize_login(login), role, names, check_text(display_name, "display_name"))
        password_hash, generated = resolve_password(password, self.b.argon2, allow_hash=False)
        self.b.admins.create(admin, password_hash)
        self.audit("admin.create", "admin", admin.login, None, after=admin)
        return admin, generated

    def _domains(self, role: Role, domains: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(normalize_domain(d) for d in domains))
        if role is Role.DOMAIN_ADMIN and not names:
            raise InvalidInput("domain", Why.ADMIN_WITHOUT_DOMAIN())
        if role is Role.SUPERADMIN and names:
            raise InvalidInput("domain", Why.SUPERADMIN_WITH_DOMAIN())
        for name in names:
            self.b.domains.get(name)
        return names

    def get(self, login: str) -> Admin:
        self.actor.require_superadmin()
        return self.b.admins.get(normalize_login(login))

    def list(self) -> Iterator[Admin]:
        self.actor.require_superadmin()
        return self.b.admins.iter_all()

    def update(self, login: str, *, domains: tuple[str, ...] | None = None,
               display_name: str | None = None, status: Status | None = None) -> Admin:
        before = self.get(login)
        changes: dict[str, object] = {}
        if domains is not None:
            changes["domains"] = self._domains(before.role, domains)
        if display_name is not None:
            changes["display_name"] = check_text(display_name, "display_name")
        if status is not None:
            changes["status"] = status
        after = dataclasses.replace(before, **changes)  # type: ignore[arg-type]
        if after != before:
            self.b.admins.save(after)
            self.audit("admin.update", "admin", after.login, None, before=before, after=after)
        if after.status is not Status.ACTIVE:
            self._end_tokens(after.login, "suspended")
            self._end_sessions(after.login)
        return after

    def delete(self, login: str) -> None:
        """Gone, with everything that let it in: API tokens, web sessions and its second
        factor's secret (a later admin of that login gets none of them)."""
        admin = self.get(login)
        self.b.admins.delete(admin.login)
        self.audit("admin.delete", "admin", admin.login, None, before=admin)
        self._end_tokens(admin.login, "deleted")
        self._end_sessions(admin.login)
        TotpRecords(self.b.store).remove(admin.login)

    def set_password(self, login: str, password: PasswordInput, *, keep_token: str = "",
                     keep_session: str = "") -> str | None:
        """An operator's reset of an admin's password; the admin's API tokens and web sessions
        end with the old one. From the web or the API an operator may not reset its OWN
        password this way (a stolen session or token would set one and then mint a token with
        it): it changes it with the current one, `change_own_password` ("My security", or the
        API's current_password). The CLI (origin "cli": the operator at the server's console,
        who holds the settings file and so every key) keeps resetting any admin's password as
        before; its actor is "cli:<user>", never an admin's login, and it is let through by
        its origin too. `keep_token`/`keep_session` (the id of the token, the token of the web
        session in use) are kept when the admin is the actor's own (through the CLI only)."""
        admin = self.get(login)
        if admin.login == self.actor.login and self.actor.origin != "cli":
            if self.actor.origin == "web":
                raise InvalidInput("password", Why.OWN_PASSWORD_ON_MY_SECURITY())
            raise InvalidInput("current_password", Why.OWN_PASSWORD_NEEDS_CURRENT())
        password_hash, generated = resolve_password(password, self.b.argon2, allow_hash=False)
        self.b.admins.set_password_hash(admin.login, password_hash)
        self.audit("admin.password", "admin", admin.login, None)
        self._end_tokens(admin.login, "password reset", keep=keep_token)
        self._end_sessions(admin.login, keep=keep_session if admin.login == self.actor.login else "")
        return generated

    def change_own_password(self, current_password: str, new_password: str, new_password_repeat: str,
                            code: str = "", keep_session: str = "", keep_token: str = "") -> None:
        """The acting admin's own change (any role), knowing its current password and, with
        the second factor on, a fresh code (services/reauth.py: counted in the login budget,
        so a stolen session or token cannot guess faster than the login form). The new one
        is checked first, so a typo does not use up a code. Its other API tokens and web
        sessions end; `keep_token` (the id of the token in use) and `keep_session` (the
        token of the web session in use) stay."""
        admin = self.b.admins.get(self.actor.login)
        if new_password != new_password_repeat:
            raise InvalidInput("new_password_repeat", Why.PASSWORDS_DIFFER())
        check_password_policy(new_password, "new_password")
        if current_password and new_password == current_password:
            raise InvalidInput("new_password", Why.SAME_PASSWORD())
        reauthenticate_admin(self.b, admin.login, current_password, code, password_field="current_password")
        password_hash, _ = resolve_password(PasswordInput(plain=new_password), self.b.argon2, allow_hash=False)
        self.b.admins.set_own_password_hash(admin.login, password_hash)  # a domain admin may not write it itself
        self.audit("admin.password", "admin", admin.login, None, after={"by": "self"})
        self._end_tokens(admin.login, "password changed", keep=keep_token)
        self._end_sessions(admin.login, keep=keep_session)

    def _end_tokens(self, login: str, reason: str, keep: str = "") -> None:
        TokenService(self.b, self.actor).revoke_all_of(login, reason, keep)

    def _end_sessions(self, login: str, keep: str = "") -> None:
        SessionRecords(self.b.store).remove_all_of("admin", login, token_hash(keep) if keep else "")
