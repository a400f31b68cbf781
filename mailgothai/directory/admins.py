"""Administrator entries (mgtAdmin under ou=admins)."""

from __future__ import annotations

from collections.abc import Iterator

import ldap3

from mailgothai.core.models import Admin, Role, Status
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry, new_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.passwords import password_attributes
from mailgothai.errors import AlreadyExists, NotFound, ValueChanged

ATTRS = ("uid", "mgtRole", "mgtAdminDomain", "displayName", "mgtStatus")


def to_admin(entry: Entry) -> Admin:
    return Admin(
        login=entry.first("uid"),
        role=Role(entry.first("mgtRole")),
        domains=entry.all("mgtAdminDomain"),
        display_name=entry.first("displayName"),
        status=Status(entry.first("mgtStatus", "active")),
    )


class AdminDirectory:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    def create(self, admin: Admin, password_hash: str) -> None:
        try:
            self._gw.add(new_entry(self._layout.admin(admin.login), ("mgtAdmin",), {
                "uid": admin.login, "mgtRole": admin.role.value, "mgtAdminDomain": list(admin.domains),
                "displayName": admin.display_name, "mgtStatus": admin.status.value,
                **password_attributes(password_hash),
            }))
        except AlreadyExists:
            raise AlreadyExists("admin", admin.login) from None

    def find(self, login: str) -> Admin | None:
        entry = self._gw.read(self._layout.admin(login), ATTRS)
        return to_admin(entry) if entry else None

    def get(self, login: str) -> Admin:
        admin = self.find(login)
        if admin is None:
            raise NotFound("admin", login)
        return admin

    def save(self, admin: Admin) -> None:
        try:
            self._gw.replace(self._layout.admin(admin.login), {
                "mgtRole": admin.role.value, "mgtAdminDomain": list(admin.domains),
                "displayName": admin.display_name, "mgtStatus": admin.status.value,
            })
        except NotFound:
            raise NotFound("admin", admin.login) from None

    def set_password_hash(self, login: str, password_hash: str) -> None:
        try:
            self._gw.replace(self._layout.admin(login), password_attributes(password_hash))
        except NotFound:
            raise NotFound("admin", login) from None

    def set_own_password_hash(self, login: str, password_hash: str) -> None:
        """An admin's own new password, written with the application's rights: slapd lets a
        domain admin read its own entry, never write it (operators manage admins). Only for
        the admin's own change (services/admins.py change_own_password), once its current
        password (and code) were proved."""
        try:
            self._gw.as_application().replace(self._layout.admin(login), password_attributes(password_hash))
        except NotFound:
            raise NotFound("admin", login) from None

    def delete(self, login: str) -> None:
        try:
            self._gw.delete(self._layout.admin(login))
        except NotFound:
            raise NotFound("admin", login) from None

    def check_password(self, login: str, password: str) -> bool:
        return self._gw.check_password(self._layout.admin(login), password)

    def iter_all(self) -> Iterator[Admin]:
        for entry in self._gw.iter_paged(self._layout.admins, f.eq("objectClass", "mgtAdmin"), ATTRS):
            yield to_admin(entry)

    def administering(self, domain: str) -> list[Admin]:
        flt = f.all_of(f.eq("objectClass", "mgtAdmin"), f.eq("mgtAdminDomain", domain))
        return [to_admin(e) for e in self._gw.search(self._layout.admins, flt, ATTRS)]

    def drop_domain(self, domain: str) -> list[Admin]:
        """Take `domain` off every admin that holds it in mgtAdminDomain (a deleted domain:
        its name, added again, must give its former admins nothing); the admins as they were.
        Each value goes by itself (a modify deleting the value as stored, never a replace), so
        a concurrent change of the admin's other domains is kept; an admin left with no domain
        stays, with none. An admin whose value went meanwhile (or who went) is skipped."""
        dropped: list[Admin] = []
        for entry in self._gw.search(self._layout.admins, f.all_of(f.eq("objectClass", "mgtAdmin"),
                                                                    f.eq("mgtAdminDomain", domain)), ATTRS):
            admin = to_admin(entry)
            stored = [d for d in admin.domains if d.lower() == domain.lower()]  # caseIgnoreMatch, as the filter
            if not stored:
                continue
            try:
                self._gw.modify(entry.dn, {"mgtAdminDomain": [(ldap3.MODIFY_DELETE, stored)]})
            except (NotFound, ValueChanged):
                continue
            dropped.append(admin)
        return dropped
