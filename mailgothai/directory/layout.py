"""Where each object lives in the tree (see DESIGN.md, "Directory layout")."""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.directory.escaping import dn, rdn


@dataclass(frozen=True)
class Layout:
    base: str

    @property
    def domains(self) -> str:
        return dn("ou=domains", self.base)

    @property
    def admins(self) -> str:
        return dn("ou=admins", self.base)

    def domain(self, name: str) -> str:
        return dn(rdn("domainName", name), self.domains)

    def users(self, domain: str) -> str:
        return dn("ou=users", self.domain(domain))

    def aliases(self, domain: str) -> str:
        return dn("ou=aliases", self.domain(domain))

    def account(self, email: str) -> str:
        return dn(rdn("mail", email), self.users(email.rpartition("@")[2]))

    def alias(self, address: str) -> str:
        return dn(rdn("mail", address), self.aliases(address.rpartition("@")[2]))

    def admin(self, login: str) -> str:
        return dn(rdn("uid", login), self.admins)
