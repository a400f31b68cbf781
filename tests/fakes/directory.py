"""The directory's ports in memory: one `FakeDirectory` holds the entries, and one small
class per port reads and writes them as the adapters in mailgothai/directory/ do.

Faithful in what the services rely on: addresses compare without case; an address has
one holder (an account, an account's alias or an alias entry); a domain's counters
change only through `adjust_usage` (checked, then written) and `recount`; a deleted
account leaves the live tree for the retained one, keeping its mailbox id; a domain
entry cannot go while it still holds entries (slapd refuses to delete a non-leaf)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailgothai.core.addresses import split_address
from mailgothai.core.app_passwords import AppPassword
from mailgothai.core.models import Account, Admin, Alias, AliasDomain, Domain, DomainLimits, RetainedAccount, Status
from mailgothai.core.passwords import is_legacy_hash, verify_password
from mailgothai.errors import AlreadyExists, DirectoryError, NotFound


def _key(address: str) -> str:
    return address.lower()


@dataclass
class FakeDirectory:
    domains: dict[str, Domain] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)  # by address, lower case
    hashes: dict[str, str] = field(default_factory=dict)  # mailbox id -> password hash
    aliases: dict[str, Alias] = field(default_factory=dict)
    admins: dict[str, Admin] = field(default_factory=dict)
    admin_hashes: dict[str, str] = field(default_factory=dict)
    retained: dict[str, RetainedAccount] = field(default_factory=dict)  # by mailbox id
    alias_domains: dict[str, AliasDomain] = field(default_factory=dict)  # by name

    def holder_of(self, address: str) -> str | None:
        key = _key(address)
        if key in self.accounts:
            return "account"
        if key in self.aliases:
            return "alias"
        if any(key in (_key(a) for a in account.aliases) for account in self.accounts.values()):
            return "account alias"
        return None


class FakeDomains:
    def __init__(self, directory: FakeDirectory) -> None:
        self.d = directory

    def create(self, domain: Domain) -> None:
        if domain.name in self.d.domains or domain.name in self.d.alias_domains:
            raise AlreadyExists("entry", domain.name)
        self.d.domains[domain.name] = domain

    def find(self, name: str) -> Domain | None:
        return self.d.domains.get(name.lower())

    def get(self, name: str) -> Domain:
        domain = self.find(name)
        if domain is None:
            raise NotFound("domain", name)
        return domain

    def update(self, name: str, *, description: str | None = None, limits: DomainLimits | None = None,
               status: Status | None = None, hold_reason: str | None = None,
               catch_all: str | None = None) -> None:
        domain = self.get(name)
        self.d.domains[domain.name] = dataclasses.replace(
            domain, description=domain.description if description is None else description,
            limits=domain.limits if limits is None else limits, status=domain.status if status is None else status,
            hold_reason=domain.hold_reason if hold_reason is None else hold_reason,
            catch_all=domain.catch_all if catch_all is None else catch_all)

    def create_alias(self, alias: AliasDomain) -> None:
        if alias.name in self.d.domains or alias.name in self.d.alias_domains:
            raise AlreadyExists("domain", alias.name)
        self.d.alias_domains[alias.name] = alias

    def find_alias(self, name: str) -> AliasDomain | None:
        return self.d.alias_domains.get(name.lower())

    def aliases_of(self, target: str | None = None) -> list[AliasDomain]:
        return [a for _, a in sorted(self.d.alias_domains.items()) if target is None or a.target == target]

    def delete_alias(self, name: str) -> None:
        if self.d.alias_domains.pop(name.lower(), None) is None:
            raise NotFound("alias domain", name)

    def delete(self, name: str) -> None:
        domain = self.get(name)
        if any(a.domain == domain.name for a in self.d.accounts.values()) or \
                any(a.domain == domain.name for a in self.d.aliases.values()):
            raise DirectoryError(f"domain {name}: not allowed on non-leaf")
        del self.d.domains[domain.name]

    def iter_all(self, name_prefix: str = "") -> Iterator[Domain]:
        return iter([d for name, d in sorted(self.d.domains.items()) if name.startswith(name_prefix)])

    def read_many(self, names: Sequence[str]) -> list[Domain]:
        return [self.d.domains[n] for n in names if n in self.d.domains]

    def adjust_usage(self, name: str, accounts: int, quota: int,
                     check: Callable[[Domain], None] | None = None) -> Domain:
        domain = self.get(name)
        if check is not None:
            check(domain)
        self.d.domains[domain.name] = dataclasses.replace(
            domain, account_count=max(0, domain.account_count + accounts),
            quota_allocated=max(0, domain.quota_allocated + quota))
        return domain

    def holder_anywhere(self, address: str) -> str | None:
        return self.d.holder_of(address)

    def recount(self, name: str) -> Domain:
        domain = self.get(name)
        mine = [a for a in self.d.accounts.values() if a.domain == domain.name]
        self.d.domains[domain.name] = dataclasses.replace(
            domain, account_count=len(mine), quota_allocated=sum(a.quota for a in mine))
        return self.d.domains[domain.name]


class FakeAccounts:
    def __init__(self, directory: FakeDirectory) -> None:
        self.d = directory

    def create(self, account: Account, password_hash: str) -> None:
        if account.domain not in self.d.domains:
            raise NotFound("entry", account.email)
        if _key(account.email) in self.d.accounts or _key(account.email) in self.d.aliases:
            raise AlreadyExists("entry", account.email)
        mailbox_id = str(uuid.uuid4())
        self.d.accounts[_key(account.email)] = dataclasses.replace(
            account, mailbox_id=mailbox_id, password_changed_at=account.password_changed_at or datetime.now(UTC))
        self.d.hashes[mailbox_id] = password_hash

    def create_all(self, new: Sequence[tuple[Account, str]]) -> None:
        for account, password_hash in new:
            self.create(account, password_hash)

    def find(self, email: str) -> Account | None:
        return self.d.accounts.get(_key(email))

    def find_by_id(self, mailbox_id: str) -> Account | None:
        return next((a for a in self.d.accounts.values() if a.mailbox_id == mailbox_id), None)

    def get(self, email: str) -> Account:
        account = self.find(email)
        if account is None:
            raise NotFound("account", email)
        return account

    def save(self, account: Account) -> None:
        current = self.get(account.email)
        self.d.accounts[_key(account.email)] = dataclasses.replace(
            account, mailbox_id=current.mailbox_id, hold_reason=current.hold_reason,
            must_change_password=current.must_change_password, password_changed_at=current.password_changed_at)

    def set_password_hash(self, email: str, password_hash: str, must_change: bool = False,
                          drop_app_passwords: bool = False) -> list[AppPassword]:
        account = self.get(email)
        self.d.hashes[account.mailbox_id] = password_hash
        self.d.accounts[_key(email)] = dataclasses.replace(account, must_change_password=must_change,
                                                           password_changed_at=datetime.now(UTC))
        return []  # the fake holds no app passwords (they live in the entry: tests against slapd)

    def set_must_change(self, email: str, must_change: bool) -> None:
        self.d.accounts[_key(email)] = dataclasses.replace(self.get(email), must_change_password=must_change)

    def stamp_password_time(self, email: str, at: datetime) -> None:
        self.d.accounts[_key(email)] = dataclasses.replace(self.get(email), password_changed_at=at)

    def password_ages(self, domain: str, before: datetime) -> Iterator[tuple[str, datetime | None, bool]]:
        for account in sorted(self.d.accounts.values(), key=lambda a: a.email):
            at = account.password_changed_at
            if account.domain == domain and (at is None or at <= before):
                yield account.email, at, account.must_change_password

    def set_hold(self, email: str, reason: str) -> None:
        account = self.get(email)
        self.d.accounts[_key(email)] = dataclasses.replace(account, hold_reason=reason)

    def rename(self, account: Account, new_email: str, aliases: tuple[str, ...]) -> None:
        current = self.get(account.email)
        new_domain = split_address(new_email)[1]
        if new_domain not in self.d.domains:
            raise NotFound("entry", new_email)
        if _key(new_email) in self.d.accounts or _key(new_email) in self.d.aliases:
            raise AlreadyExists("entry", new_email)
        del self.d.accounts[_key(current.email)]
        self.d.accounts[_key(new_email)] = dataclasses.replace(current, email=new_email, domain=new_domain,
                                                               aliases=aliases)

    def check_password(self, email: str, password: str) -> bool:
        account = self.find(email)
        return account is not None and verify_password(password, self.d.hashes[account.mailbox_id])

    def upgrade_legacy_hash(self, email: str, password: str, hasher: Callable[[str], str]) -> bool:
        account = self.find(email)
        if account is None or not is_legacy_hash(self.d.hashes[account.mailbox_id]):
            return False
        if not verify_password(password, self.d.hashes[account.mailbox_id]):
            return False
        self.d.hashes[account.mailbox_id] = hasher(password)
        return True

    def _of_domain(self, domain: str, search: str | None, with_identity: bool = False) -> list[Account]:
        """Bulk reads, as the adapter's: without the mailbox id unless asked for."""
        found = sorted((a for a in self.d.accounts.values() if a.domain == domain), key=lambda a: a.email)
        if search:
            text = search.lower()
            found = [a for a in found if a.email.lower().startswith(text)
                     or a.display_name.lower().startswith(text)]
        return found if with_identity else [dataclasses.replace(a, mailbox_id="") for a in found]

    def first_page(self, domain: str, size: int = 50, search: str | None = None,
                   with_identity: bool = False) -> tuple[list[Account], bool]:
        found = self._of_domain(domain, search, with_identity)
        return found[:size], len(found) > size

    def iter_domain(self, domain: str, search: str | None = None, page_size: int = 500) -> Iterator[Account]:
        return iter(self._of_domain(domain, search))

    def search_all(self, text: str, limit: int = 50, domains: tuple[str, ...] | None = None) -> list[Account]:
        found = [a for name in sorted(self.d.domains) if domains is None or name in domains
                 for a in self._of_domain(name, text)]
        return found[:limit]


class FakeAliases:
    def __init__(self, directory: FakeDirectory) -> None:
        self.d = directory

    def create(self, alias: Alias) -> None:
        if alias.domain not in self.d.domains:
            raise NotFound("entry", alias.address)
        if self.d.holder_of(alias.address) in ("account", "alias"):
            raise AlreadyExists("entry", alias.address)
        self.d.aliases[_key(alias.address)] = alias

    def get(self, address: str) -> Alias:
        alias = self.d.aliases.get(_key(address))
        if alias is None:
            raise NotFound("alias", address)
        return alias

    def set_members(self, address: str, members: tuple[str, ...]) -> None:
        self.d.aliases[_key(address)] = dataclasses.replace(self.get(address), members=members)

    def set_status(self, address: str, status: Status) -> None:
        self.d.aliases[_key(address)] = dataclasses.replace(self.get(address), status=status)

    def delete(self, address: str) -> None:
        self.get(address)
        del self.d.aliases[_key(address)]

    def iter_domain(self, domain: str) -> Iterator[Alias]:
        return iter(sorted((a for a in self.d.aliases.values() if a.domain == domain), key=lambda a: a.address))

    def with_member(self, address: str) -> list[Alias]:
        return [a for a in self.d.aliases.values() if _key(address) in (_key(m) for m in a.members)]

    def holder_of(self, address: str) -> str | None:
        return self.d.holder_of(address)


class FakeAdmins:
    def __init__(self, directory: FakeDirectory) -> None:
        self.d = directory

    def create(self, admin: Admin, password_hash: str) -> None:
        if admin.login in self.d.admins:
            raise AlreadyExists("entry", admin.login)
        self.d.admins[admin.login] = admin
        self.d.admin_hashes[admin.login] = password_hash

    def find(self, login: str) -> Admin | None:
        return self.d.admins.get(login)

    def get(self, login: str) -> Admin:
        admin = self.find(login)
        if admin is None:
            raise NotFound("admin", login)
        return admin

    def save(self, admin: Admin) -> None:
        self.get(admin.login)
        self.d.admins[admin.login] = admin

    def set_password_hash(self, login: str, password_hash: str) -> None:
        self.get(login)
        self.d.admin_hashes[login] = password_hash

    def set_own_password_hash(self, login: str, password_hash: str) -> None:
        self.set_password_hash(login, password_hash)  # slapd's rules are not the fake's

    def delete(self, login: str) -> None:
        self.get(login)
        del self.d.admins[login]
        del self.d.admin_hashes[login]

    def check_password(self, login: str, password: str) -> bool:
        return login in self.d.admins and verify_password(password, self.d.admin_hashes[login])

    def iter_all(self) -> Iterator[Admin]:
        return iter([self.d.admins[login] for login in sorted(self.d.admins)])

    def administering(self, domain: str) -> list[Admin]:
        return [a for a in self.iter_all() if domain in a.domains]

    def drop_domain(self, domain: str) -> list[Admin]:
        dropped = [a for a in self.iter_all() if domain.lower() in (d.lower() for d in a.domains)]
        for admin in dropped:
            self.d.admins[admin.login] = dataclasses.replace(
                admin, domains=tuple(d for d in admin.domains if d.lower() != domain.lower()))
        return dropped


class FakeRetained:
    def __init__(self, directory: FakeDirectory) -> None:
        self.d = directory

    def retire(self, account: Account, deleted_at: datetime, deleted_by: str, purge_after: datetime,
               size: int | None) -> RetainedAccount:
        # As the adapter does, the record is made of the account passed in: it must carry
        # its mailbox id (read alone, or in bulk with_identity).
        assert account.mailbox_id, f"{account.email} was read without its mailbox id"
        if self.d.accounts.pop(_key(account.email), None) is None:
            raise NotFound("account", account.email)
        retained = RetainedAccount(account.mailbox_id, account, deleted_at, deleted_by, purge_after, size,
                                   account.hold_reason)
        self.d.retained[account.mailbox_id] = retained
        return retained

    def restore(self, retained: RetainedAccount, address: str) -> None:
        current = self._get(retained)
        if _key(address) in self.d.accounts or _key(address) in self.d.aliases:
            raise AlreadyExists("entry", address)
        del self.d.retained[current.mailbox_id]
        self.d.accounts[_key(address)] = dataclasses.replace(current.account, email=address,
                                                             mailbox_id=current.mailbox_id)

    def drop_aliases(self, retained: RetainedAccount, aliases: tuple[str, ...]) -> None:
        current = self._get(retained)
        self.d.retained[current.mailbox_id] = dataclasses.replace(
            current, account=dataclasses.replace(current.account, aliases=aliases))

    def iter_domain(self, domain: str) -> Iterator[RetainedAccount]:
        return iter([r for r in self.d.retained.values() if r.domain == domain])

    def iter_all(self) -> Iterator[RetainedAccount]:
        return iter(list(self.d.retained.values()))

    def by_id(self, mailbox_id: str) -> RetainedAccount | None:
        return self.d.retained.get(mailbox_id)

    def by_address(self, address: str) -> list[RetainedAccount]:
        return [r for r in self.d.retained.values() if _key(r.email) == _key(address)]

    def set_hold(self, retained: RetainedAccount, reason: str) -> RetainedAccount:
        held = dataclasses.replace(self._get(retained), hold_reason=reason)
        self.d.retained[held.mailbox_id] = held
        return held

    def mark_purging(self, retained: RetainedAccount) -> None:
        self.d.retained[retained.mailbox_id] = dataclasses.replace(self._get(retained), purging=True)

    def delete(self, retained: RetainedAccount) -> None:
        self._get(retained)
        del self.d.retained[retained.mailbox_id]
        self.d.hashes.pop(retained.mailbox_id, None)

    def _get(self, retained: RetainedAccount) -> RetainedAccount:
        current = self.d.retained.get(retained.mailbox_id)
        if current is None:
            raise NotFound("deleted account", retained.mailbox_id)
        return current
