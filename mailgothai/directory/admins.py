"""Administrator entries (mgtAdmin under ou=admins)."""

from __future__ import annotations

from collections.abc import Iterator

from mailgothai.core.models import Admin, Role, Status
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry, new_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.passwords import password_attributes
from mailgothai.errors import AlreadyExists, NotFound

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
