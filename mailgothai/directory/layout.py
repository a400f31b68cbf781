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

    @property
    def retained(self) -> str:
        """Deleted accounts kept for their domain's retention period (outside ou=domains:
        nothing that routes or logs in mail ever searches them)."""
        return dn("ou=retained", self.base)

    def retained_account(self, deleted_at: str) -> str:
        """A deleted account, named by when it was deleted (LDAP GeneralizedTime to the
        microsecond), so several deletions of one address stand side by side."""
        return dn(rdn("mgtDeletedAt", deleted_at), self.retained)

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
