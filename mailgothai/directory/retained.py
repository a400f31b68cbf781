"""Deleted accounts under ou=retained, kept for their domain's retention period.

An account is deleted by moving its entry (modify DN: atomic, and it keeps its entryUUID,
the mailbox's identity) from `mail=ADDRESS,ou=users,domainName=D,...` to
`mgtDeletedAt=TIME,ou=retained,...`: from that moment nothing that routes or logs in mail
finds it (they search ou=domains only), its address is free, and its password hash, names,
quota, aliases and forwards wait with it for a restore. The mailbox on disk is not touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from mailgothai.core.models import Account, RetainedAccount
from mailgothai.directory import accounts as account_entries
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.errors import AlreadyExists, NotFound

RETAINED_ATTRS = ("mgtDeletedAt", "mgtDeletedBy", "mgtPurgeAfter", "mgtMailboxSize", "mgtPurging")
ATTRS = (*account_entries.ATTRS, "entryUUID", "mgtHoldReason", *RETAINED_ATTRS)
BOOKKEEPING = ("mgtDeletedBy", "mgtPurgeAfter", "mgtMailboxSize", "mgtPurging")  # removed again on restore


def ldap_time(moment: datetime) -> str:
    """LDAP GeneralizedTime in UTC to the microsecond, e.g. 20261203151000.123456Z."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S.%fZ")


def parse_ldap_time(text: str) -> datetime:
    value = text.rstrip("Z")
    stamp = datetime.strptime(value, "%Y%m%d%H%M%S.%f" if "." in value else "%Y%m%d%H%M%S")
    return stamp.replace(tzinfo=UTC)


def to_retained(entry: Entry) -> RetainedAccount:
    account = account_entries.to_account(entry)
    size = entry.first("mgtMailboxSize")
    return RetainedAccount(
        mailbox_id=entry.first("entryUUID"), account=account,
        deleted_at=parse_ldap_time(entry.first("mgtDeletedAt")), deleted_by=entry.first("mgtDeletedBy"),
        purge_after=parse_ldap_time(entry.first("mgtPurgeAfter") or entry.first("mgtDeletedAt")),
        size=int(size) if size else None, hold_reason=entry.first("mgtHoldReason"),
        purging=entry.first("mgtPurging").upper() == "TRUE",
    )


class RetainedDirectory:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    # ---- into retention and back ----------------------------------------------------
    def retire(self, account: Account, deleted_at: datetime, deleted_by: str, purge_after: datetime,
               size: int | None) -> RetainedAccount:
        """Move a live account into retention. First its bookkeeping is written on the
        live entry (harmless if the move never follows: a later delete rewrites it), then
        the move itself, which frees the address in one step."""
        live = self._layout.account(account.email)
        try:
            self._gw.replace(live, {"mgtDeletedBy": deleted_by, "mgtPurgeAfter": ldap_time(purge_after),
                                    "mgtMailboxSize": size, "mgtPurging": None})
        except NotFound:
            raise NotFound("account", account.email) from None
        while True:
            stamp = ldap_time(deleted_at)
            try:
                self._gw.rename(live, f.rdn("mgtDeletedAt", stamp), delete_old_rdn=False,
                                new_superior=self._layout.retained)
                break
            except AlreadyExists:  # another deletion in the same microsecond
                deleted_at = deleted_at.replace(microsecond=(deleted_at.microsecond + 1) % 1_000_000)
        return RetainedAccount(account.mailbox_id, account, parse_ldap_time(stamp), deleted_by, purge_after,
                               size, account.hold_reason)

    def restore(self, retained: RetainedAccount, address: str) -> None:
        """Move a retained account back among its domain's accounts as `address` (its own,
        or another of the same domain, free: the caller checked). The address is set while
        the entry is still retained, so the move gives it exactly one; the move removes
        mgtDeletedAt (its old RDN); then the rest of the bookkeeping goes."""
        dn = self._dn(retained)
        if address != retained.email:
            moved = replace(retained.account, email=address)
            self._gw.replace(dn, {"mail": address, **account_entries.person_values(moved)})
        domain = address.rpartition("@")[2]
        self._gw.rename(dn, f.rdn("mail", address), delete_old_rdn=True, new_superior=self._layout.users(domain))
        self._gw.replace(self._layout.account(address), {name: None for name in BOOKKEEPING})

    def drop_aliases(self, retained: RetainedAccount, aliases: tuple[str, ...]) -> None:
        """Keep only `aliases` (before a restore: those another entry took meanwhile go)."""
        self._gw.replace(self._dn(retained), {"mgtAliasAddress": list(aliases)})

    # ---- reading --------------------------------------------------------------------
    def iter_domain(self, domain: str) -> Iterator[RetainedAccount]:
        flt = f.all_of(f.eq("objectClass", "mgtAccount"), f.eq("domainName", domain))
        for entry in self._gw.iter_paged(self._layout.retained, flt, ATTRS):
            yield to_retained(entry)

    def iter_all(self) -> Iterator[RetainedAccount]:
        for entry in self._gw.iter_paged(self._layout.retained, f.eq("objectClass", "mgtAccount"), ATTRS):
            yield to_retained(entry)

    def by_id(self, mailbox_id: str) -> RetainedAccount | None:
        entries = self._gw.search(self._layout.retained, f.eq("entryUUID", mailbox_id), ATTRS, limit=2)
        return to_retained(entries[0]) if entries else None

    def by_address(self, address: str) -> list[RetainedAccount]:
        """Every retained deletion of `address`, newest first."""
        found = [to_retained(e) for e in self._gw.search(self._layout.retained, f.eq("mail", address), ATTRS)]
        return sorted(found, key=lambda r: r.deleted_at, reverse=True)

    def count_domain(self, domain: str) -> int:
        return sum(1 for _ in self._gw.iter_paged(self._layout.retained, f.eq("domainName", domain), ("1.1",)))

    # ---- holds and the purge --------------------------------------------------------
    def set_hold(self, retained: RetainedAccount, reason: str) -> RetainedAccount:
        self._gw.replace(self._dn(retained), {"mgtHoldReason": reason or None})
        return replace(retained, hold_reason=reason)

    def mark_purging(self, retained: RetainedAccount) -> None:
        """From here on the account cannot be restored: its mailbox is being removed."""
        self._gw.replace(self._dn(retained), {"mgtPurging": "TRUE"})

    def delete(self, retained: RetainedAccount) -> None:
        try:
            self._gw.delete(self._dn(retained))
        except NotFound:
            pass  # a purge that died after this step: nothing left to delete

    def add(self, account: Account, deleted_at: datetime, deleted_by: str, purge_after: datetime,
            size: int | None) -> RetainedAccount:
        """A retained entry made afresh, with no password: the mail of an account an older
        version deleted without keeping it (stack/mailbox_migration.py)."""
        bookkeeping = {"mgtDeletedBy": deleted_by, "mgtPurgeAfter": ldap_time(purge_after), "mgtMailboxSize": size}
        while True:
            stamp = ldap_time(deleted_at)
            try:
                self._gw.add(account_entries.account_entry(self._layout.retained_account(stamp), account, "",
                                                           **bookkeeping, mgtDeletedAt=stamp))
                break
            except AlreadyExists:
                deleted_at = deleted_at.replace(microsecond=(deleted_at.microsecond + 1) % 1_000_000)
        entry = self._gw.read(self._layout.retained_account(stamp), ATTRS)
        assert entry is not None
        return to_retained(entry)

    def _dn(self, retained: RetainedAccount) -> str:
        return self._layout.retained_account(ldap_time(retained.deleted_at))
