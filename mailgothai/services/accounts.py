"""Accounts: created, changed, suspended and deleted within their domain's limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, normalize_domain, parse_address_list, split_address
from mailgothai.core.limits import check_account_fits, check_quota_change
from mailgothai.core.models import Account, Domain, RetainedAccount, Role, Status
from mailgothai.core.quota import parse_size
from mailgothai.core.reasons import Term, Why
from mailgothai.core.text import check_text
from mailgothai.errors import AlreadyExists, InvalidInput
from mailgothai.services.base import Service
from mailgothai.services.domain_routing import login_names
from mailgothai.services.lifecycle import LifecycleService
from mailgothai.services.password_lifecycle import lifecycle_for
from mailgothai.services.password_policy import person_of, policy_for
from mailgothai.services.passwords import PasswordInput, resolve_password, upgrade_at_login


@dataclass(frozen=True)
class NewAccount:
    account: Account
    generated_password: str | None  # shown once, never stored in clear


class AccountService(Service):
    # ---- reading ---------------------------------------------------------------
    def get(self, email: str) -> Account:
        email = normalize_address(email)
        self.actor.require_domain(split_address(email)[1])
        return self.b.accounts.get(email)

    def iter_domain(self, domain: str, search: str | None = None) -> Iterator[Account]:
        domain = self._domain(domain).name
        return self.b.accounts.iter_domain(domain, search or None)

    def first_page(self, domain: str, size: int = 50, search: str | None = None) -> tuple[list[Account], bool]:
        domain = self._domain(domain).name
        return self.b.accounts.first_page(domain, size, search or None)

    def search(self, text: str, limit: int = 50) -> list[Account]:
        """Accounts, in every domain the actor may see, whose address or name starts with text."""
        text = check_text(text.strip(), "search", 320)
        if not text:
            raise InvalidInput("search", Why.SEARCH_EMPTY())
        scope = None if self.actor.role is Role.SUPERADMIN else tuple(sorted(self.actor.domains))
        return self.b.accounts.search_all(text, limit, scope)

    # ---- writing ---------------------------------------------------------------
    def add(self, email: str, password: PasswordInput, *, given_name: str = "", surname: str = "",
            display_name: str = "", quota: str | int | None = None, status: str | Status = Status.ACTIVE,
            aliases: str | tuple[str, ...] = (), forwards: str | tuple[str, ...] = ()) -> NewAccount:
        email = normalize_address(email)
        domain = self._domain(split_address(email)[1])
        account = Account(
            email=email, domain=domain.name,
            quota=domain.limits.default_quota if quota in (None, "") else parse_size(quota, "quota"),
            status=status if isinstance(status, Status) else Status.parse(status),
            given_name=check_text(given_name, "given_name"), surname=check_text(surname, "surname"),
            display_name=check_text(display_name, "display_name"),
            aliases=self._aliases(email, aliases), forwards=_addresses(forwards, "forward"),
        )
        password_hash, generated = resolve_password(password, self.b.argon2, policy=policy_for(self.b, domain.name),
                                                    person=person_of(account))
        if lifecycle_for(self.b, domain.name).must_change_new(generated is not None):
            account = dataclasses.replace(account, must_change_password=True)
        holder = self.b.domains.holder_anywhere(email)  # in any domain, whatever the actor may read
        if holder:
            raise AlreadyExists("address", email, f"in use by an {holder}")
        # Reserve room in the domain first (atomic), then write; give it back on failure.
        self.b.domains.adjust_usage(domain.name, 1, account.quota,
                                    check=lambda current: check_account_fits(current, account.quota))
        try:
            self.b.accounts.create(account, password_hash)
        except BaseException:
            self.b.domains.adjust_usage(domain.name, -1, -account.quota)
            raise
        self.audit("account.create", "account", email, domain.name, after=account)
        self.b.doveadm.flush_auth_cache([email])  # nothing cached of an earlier holder of the address
        return NewAccount(account, generated)

    def update(self, email: str, *, given_name: str | None = None, surname: str | None = None,
               display_name: str | None = None, quota: str | int | None = None,
               aliases: str | tuple[str, ...] | None = None,
               forwards: str | tuple[str, ...] | None = None) -> Account:
        before = self.get(email)
        changes: dict[str, object] = {}
        for name, value in (("given_name", given_name), ("surname", surname), ("display_name", display_name)):
            if value is not None:
                changes[name] = check_text(value, name)
        if aliases is not None:
            changes["aliases"] = self._aliases(before.email, aliases, keep=before.aliases)
        if forwards is not None:
            changes["forwards"] = _addresses(forwards, "forward")
        new_quota = before.quota if quota in (None, "") else parse_size(quota, "quota")
        changes["quota"] = new_quota
        after = dataclasses.replace(before, **changes)  # type: ignore[arg-type]
        if after == before:
            return before
        delta = new_quota - before.quota
        if delta:
            self.b.domains.adjust_usage(before.domain, 0, delta,
                                        check=lambda current: check_quota_change(current, before.quota, new_quota))
        try:
            self.b.accounts.save(after)
        except BaseException:
            if delta:
                self.b.domains.adjust_usage(before.domain, 0, -delta)
            raise
        self.audit("account.update", "account", before.email, before.domain, before=before, after=after)
        self.b.doveadm.flush_auth_cache(login_names(self.b, [before.email]))
        return after

    def set_status(self, email: str, status: Status) -> Account:
        before = self.get(email)
        if before.status is status:
            return before
        after = dataclasses.replace(before, status=status)
        self.b.accounts.save(after)
        action = "account.activate" if status is Status.ACTIVE else "account.suspend"
        self.audit(action, "account", before.email, before.domain, before=before, after=after)
        self.b.doveadm.flush_auth_cache(login_names(self.b, [before.email]))
        if status is not Status.ACTIVE:  # its open IMAP and SMTP sessions end too (also those into shared mailboxes)
            self.b.end_sessions([before.email])
        return after

    def set_password(self, email: str, password: PasswordInput, *, must_change: bool = True) -> str | None:
        """An admin's reset: returns the generated password, if asked to generate. The user
        must change it at the next login (issue 20) unless must_change is False."""
        account = self.get(email)
        password_hash, generated = resolve_password(password, self.b.argon2, policy=policy_for(self.b, account.domain),
                                                    person=person_of(account))
        # A reset takes the account back (a break-in, a forgotten password): the app passwords
        # go with the old password (an intruder who knew it could have made some), in the same
        # write; the user makes new ones for its devices. Its own change keeps them.
        dropped = self.b.accounts.set_password_hash(account.email, password_hash, must_change=must_change,
                                                    drop_app_passwords=True)
        # Right after the write, before any bookkeeping that could fail: an intruder's IMAP,
        # ManageSieve and SMTP sessions, opened with the old password, end now (after the
        # flush, so none logs in again with it); the user's clients log in anew. The relay
        # reads the entry again: the change-at-next-login mark applies to AUTH at once.
        self.b.doveadm.flush_auth_cache(login_names(self.b, [account.email]))
        self.b.end_sessions([account.email])
        after: dict[str, object] = {"change_at_next_login": must_change}
        if dropped:
            after["app_logins_revoked"] = [app.name for app in dropped]
        secrets = self.b.account_secrets
        try:
            if secrets is not None:
                secrets.end_web_sessions(account.email)  # whoever is logged in is out
                if account.mailbox_id:
                    # The intruder may have set (and confirmed) a recovery address of its own,
                    # and asked for reset links. The address goes, and every open link with it:
                    # the user sets a recovery address again, knowing the new password.
                    secrets.void_reset_links(account.mailbox_id)
                    removed = secrets.drop_recovery(account.mailbox_id)
                    if removed is not None:
                        after["recovery_address_removed"] = removed
                secrets.forget_app_uses(account.email, [app.id for app in dropped])
        finally:  # the new password is written: recorded whatever failed after it
            self.audit("account.password", "account", account.email, account.domain, after=after)
        return generated

    def upgrade_legacy_hash(self, email: str, password: str) -> bool:
        """After a login elsewhere (Dovecot's post-login script): see upgrade_at_login."""
        return upgrade_at_login(self.b, normalize_address(email, "email"), password)

    def delete(self, email: str) -> RetainedAccount:
        """Delete the account into retention (services/lifecycle.py): login and delivery
        end now, the address is free, the mailbox is kept for the domain's period."""
        account = self.get(email)
        return LifecycleService(self.b, self.actor).retire(account, self.b.domains.find(account.domain))

    def check_login(self, email: str, password: str) -> bool:
        """True if the password is right and the account and its domain are active."""
        try:
            account = self.b.accounts.find(normalize_address(email))
        except InvalidInput:
            return False
        if account is None or account.status is not Status.ACTIVE:
            return False
        domain = self.b.domains.find(account.domain)
        if domain is None or domain.status is not Status.ACTIVE:
            return False
        return self.b.accounts.check_password(account.email, password)

    # ---- helpers ---------------------------------------------------------------
    def _domain(self, name: str) -> Domain:
        name = normalize_domain(name)
        self.actor.require_domain(name)
        return self.b.domains.get(name)

    def _aliases(self, email: str, text: str | tuple[str, ...], keep: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Alias addresses: hosted, within the actor's domains, and not used elsewhere."""
        addresses = _addresses(text, "aliases")
        for address in addresses:
            if address == email:
                raise InvalidInput("aliases", Why.OWN_ADDRESS(address=address))
            domain = split_address(address)[1]
            if not self.actor.may_manage(domain) or self.b.domains.find(domain) is None:
                raise InvalidInput("aliases", Why.DOMAIN_NOT_HOSTED(address=address, domain=domain))
            if address not in keep:
                holder = self.b.domains.holder_anywhere(address)
                if holder:
                    raise InvalidInput("aliases", Why.ADDRESS_TAKEN(address=address, holder=Term(holder)))
        return addresses


def _addresses(value: str | tuple[str, ...], field: str) -> tuple[str, ...]:
    text = value if isinstance(value, str) else ";".join(value)
    return parse_address_list(text, field)
