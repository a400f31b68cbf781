"""Account entries: inetOrgPerson + mgtAccount under ou=users of their domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from mailgothai.core.app_passwords import AppPassword
from mailgothai.core.models import Account, Status
from mailgothai.directory import escaping as f
from mailgothai.directory.app_passwords import password_change
from mailgothai.directory.entries import Entry, NewEntry, new_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.passwords import (
    CHANGED_AT,
    MUST_CHANGE,
    account_password_attributes,
    ldap_stamp,
    parse_stamp,
    upgrade_legacy_hash,
)
from mailgothai.errors import AlreadyExists, NotFound

ATTRS = ("mail", "domainName", "mgtStatus", "mgtQuota", "givenName", "sn", "displayName",
         "mgtAliasAddress", "mgtForwardAddress")
# displayName is not asked: cn holds the display name whenever there is one (below), and
# slapd keeps no index for it (deploy/slapd/config.ldif.in).
NAME_ATTRS = ("givenName", "sn", "cn")
# One account read alone also gets its mailbox's identity (entryUUID) and its hold.
ONE_ATTRS = (*ATTRS, "entryUUID", "mgtHoldReason", CHANGED_AT, MUST_CHANGE)


def person_values(account: Account) -> dict[str, object]:
    # inetOrgPerson requires sn and cn. A blank surname is stored as the address itself
    # and read back as blank (nobody's surname is their own e-mail address).
    return {
        "sn": account.surname or account.email,
        "cn": account.display_name or " ".join(p for p in (account.given_name, account.surname) if p) or account.email,
        "givenName": account.given_name or None,
        "displayName": account.display_name or None,
    }


def account_attributes(account: Account, password_hash: str) -> dict[str, object]:
    """The entry of a new account (also used to write LDIF for offline loading)."""
    return {
        "mail": account.email,
        "domainName": account.domain,
        "mgtStatus": account.status.value,
        "mgtQuota": account.quota,
        "mgtAliasAddress": list(account.aliases),
        "mgtForwardAddress": list(account.forwards),
        **account_password_attributes(password_hash, account.password_changed_at, account.must_change_password),
        **person_values(account),
    }


OBJECT_CLASSES = ("inetOrgPerson", "mgtAccount")


def account_entry(dn: str, account: Account, password_hash: str, **more: object) -> NewEntry:
    """The entry of a new account at dn (live, or retained with its bookkeeping in `more`);
    also written as LDIF for offline loading."""
    return new_entry(dn, OBJECT_CLASSES, {**account_attributes(account, password_hash), **more})


AccountFields = tuple[str, str, int, Status, str, str, str, tuple[str, ...], tuple[str, ...]]


def account_fields(entry: Entry) -> AccountFields:
    """An account entry's values in Account's field order, read straight from the raw
    values (bulk reads make 207,074 of these: no per-attribute lookups)."""
    get = entry.attrs.get
    mail, domain, surname = get("mail"), get("domainname"), get("sn")
    email = mail[0].decode() if mail else ""
    sn = surname[0].decode() if surname else ""
    given, display, quota, status = get("givenname"), get("displayname"), get("mgtquota"), get("mgtstatus")
    aliases, forwards = get("mgtaliasaddress"), get("mgtforwardaddress")
    return (email, domain[0].decode() if domain else "", int(quota[0]) if quota else 0,
            Status(status[0].decode()) if status else Status.ACTIVE,
            given[0].decode() if given else "", "" if sn == email else sn, display[0].decode() if display else "",
            tuple(v.decode() for v in aliases) if aliases else (),
            tuple(v.decode() for v in forwards) if forwards else ())


def to_account(entry: Entry) -> Account:
    # A blank surname is stored as the address itself (see person_values).
    return Account(*account_fields(entry), mailbox_id=entry.first("entryUUID"),
                   hold_reason=entry.first("mgtHoldReason"),
                   must_change_password=entry.first(MUST_CHANGE).upper() == "TRUE",
                   password_changed_at=parse_stamp(entry.first(CHANGED_AT)))


def name_filter(text: str) -> str:
    """Accounts whose address or any name part starts with text (Thai included)."""
    return f.any_of(f.prefix("mail", text), *(f.prefix(attr, text) for attr in NAME_ATTRS))


class AccountDirectory:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    def create(self, account: Account, password_hash: str) -> None:
        try:
            self._gw.add(account_entry(self._layout.account(account.email), account, password_hash))
        except AlreadyExists:
            raise AlreadyExists("account", account.email) from None

    def create_all(self, new: Sequence[tuple[Account, str]]) -> None:
        """Several (account, password hash) in one LDAP transaction: all are written or
        none. Raises TransactionRefused (with the position of the refused one)."""
        self._gw.add_all([account_entry(self._layout.account(account.email), account, password_hash)
                          for account, password_hash in new])

    def find(self, email: str) -> Account | None:
        entry = self._gw.read(self._layout.account(email), ONE_ATTRS)
        return to_account(entry) if entry else None

    def find_by_id(self, mailbox_id: str) -> Account | None:
        """The live account whose mailbox this is (entryUUID is equality-indexed)."""
        entries = self._gw.search(self._layout.domains, f.all_of(f.eq("objectClass", "mgtAccount"),
                                                                 f.eq("entryUUID", mailbox_id)), ONE_ATTRS, limit=2)
        return to_account(entries[0]) if entries else None

    def get(self, email: str) -> Account:
        account = self.find(email)
        if account is None:
            raise NotFound("account", email)
        return account

    def save(self, account: Account) -> None:
        """Write every field of an existing account (not its password)."""
        try:
            self._gw.replace(self._layout.account(account.email), {
                "mgtStatus": account.status.value,
                "mgtQuota": account.quota,
                "mgtAliasAddress": list(account.aliases),
                "mgtForwardAddress": list(account.forwards),
                **person_values(account),
            })
        except NotFound:
            raise NotFound("account", account.email) from None

    def set_password_hash(self, email: str, password_hash: str, must_change: bool = False,
                          drop_app_passwords: bool = False) -> list[AppPassword]:
        """The new main password; the app passwords stay unless `drop_app_passwords` (then all
        go in the same modify, and are returned). With the second factor on, web only (issue 20)."""
        try:
            dn = self._layout.account(email)
            attributes, dropped = password_change(self._gw, dn, account_password_attributes(
                password_hash, must_change=must_change), keep_apps=not drop_app_passwords)
            self._gw.replace(dn, attributes)
        except NotFound:
            raise NotFound("account", email) from None
        return dropped

    def set_must_change(self, email: str, must_change: bool) -> None:
        try:
            self._gw.replace(self._layout.account(email), {MUST_CHANGE: "TRUE" if must_change else None})
        except NotFound:
            raise NotFound("account", email) from None

    def stamp_password_time(self, email: str, at: datetime) -> None:
        """Start the clock of a password set before issue 20 (no time stored)."""
        try:
            self._gw.replace(self._layout.account(email), {CHANGED_AT: ldap_stamp(at)})
        except NotFound:
            raise NotFound("account", email) from None

    def password_ages(self, domain: str, before: datetime) -> Iterator[tuple[str, datetime | None, bool]]:
        """(address, set at, marked) of the domain's accounts whose password was set at or
        before `before`, or has no time (made before issue 20)."""
        search = f.all_of(f.eq("domainName", domain), f.any_of(
            f"({CHANGED_AT}<={f.value(ldap_stamp(before))})", f"(!{f.present(CHANGED_AT)})"))
        for entry in self._gw.iter_paged(self._layout.users(domain), search, ("mail", CHANGED_AT, MUST_CHANGE)):
            yield (entry.first("mail"), parse_stamp(entry.first(CHANGED_AT)),
                   entry.first(MUST_CHANGE).upper() == "TRUE")

    def set_hold(self, email: str, reason: str) -> None:
        """Put the account on legal hold ("" lifts it)."""
        try:
            self._gw.replace(self._layout.account(email), {"mgtHoldReason": reason or None})
        except NotFound:
            raise NotFound("account", email) from None

    def rename(self, account: Account, new_email: str, aliases: tuple[str, ...]) -> None:
        """Give the account the address new_email (its mailbox, password and all else stay:
        the entry is moved, keeping its entryUUID) with `aliases` as its aliases. The
        aliases, the names that follow the address and, for another domain, domainName are
        written first; the move then replaces the address in one step, so the entry never
        has two. Where the entry is comes from its address (its DN), so a rename that died
        between the two steps is finished by running it again."""
        new_domain = new_email.rpartition("@")[2]
        old = self._layout.account(account.email)
        # A blank surname (and a missing name) are stored as the address: they follow it.
        changes: dict[str, object] = dict(person_values(replace(account, email=new_email)))
        if aliases != account.aliases:
            changes["mgtAliasAddress"] = list(aliases)
        if new_domain != account.domain:
            changes["domainName"] = new_domain
        moves = new_domain != account.email.rpartition("@")[2]
        try:
            self._gw.replace(old, changes)
            self._gw.rename(old, f.rdn("mail", new_email), delete_old_rdn=True,
                            new_superior=self._layout.users(new_domain) if moves else None)
        except NotFound:
            raise NotFound("account", account.email) from None
        except AlreadyExists:
            raise AlreadyExists("account", new_email) from None

    def check_password(self, email: str, password: str) -> bool:
        return self._gw.check_password(self._layout.account(email), password)

    def upgrade_legacy_hash(self, email: str, password: str, hasher: Callable[[str], str]) -> bool:
        return upgrade_legacy_hash(self._gw, self._layout.account(email), password, hasher)

    def _filter(self, domain: str | None, search: str | None) -> str:
        # Within one domain's ou=users only accounts live: the eq-indexed domainName
        # alone selects them (adding objectClass costs an intersection with every account).
        parts = [f.eq("domainName", domain)] if domain else [f.eq("objectClass", "mgtAccount")]
        if search:
            parts.append(name_filter(search))
        return f.all_of(*parts)

    def first_page(self, domain: str, size: int = 50, search: str | None = None,
                   with_identity: bool = False) -> tuple[list[Account], bool]:
        """The first `size` accounts; with_identity: with their mailbox ids and holds too."""
        entries, more = self._gw.first_page(self._layout.users(domain), self._filter(domain, search), size,
                                            ONE_ATTRS if with_identity else ATTRS)
        return [to_account(e) for e in entries], more

    def iter_domain(self, domain: str, search: str | None = None, page_size: int = 500) -> Iterator[Account]:
        for fields in self.iter_fields(domain, search, page_size):
            yield Account(*fields)

    def iter_fields(self, domain: str, search: str | None = None, page_size: int = 500) -> Iterator[AccountFields]:
        """iter_domain's accounts as account_fields() tuples (bulk reads: no Account objects)."""
        for entry in self._gw.iter_paged(self._layout.users(domain), self._filter(domain, search), ATTRS, page_size):
            yield account_fields(entry)

    def search_all(self, text: str, limit: int = 50, domains: tuple[str, ...] | None = None) -> list[Account]:
        """Accounts whose address or name starts with text, in every domain or in `domains`."""
        flt = self._filter(None, text)
        if domains is not None:
            if not domains:
                return []
            flt = f.all_of(flt, f.any_of(*(f.eq("domainName", d) for d in domains)))
        entries = self._gw.search(self._layout.domains, flt, ATTRS, limit=limit)
        return [to_account(e) for e in entries]
