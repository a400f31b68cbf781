"""Shared role mailboxes (issue 17): the saraban@ address every Thai agency must have,
read by several staff through their own accounts.

A shared mailbox is an entry of its own (mgtSharedMailbox, under the domain's ou=shared)
with its own mailbox home by its entryUUID, like an account, but with no password: the
passdb finds accounts only, so nobody logs in as it. Its quota counts against the domain's
quota pool; it is not one of the domain's accounts (max_accounts). Members are live
accounts of the same domain; their rights are on their own entries (core/shared.py), so a
member deleted (or renamed, or suspended) carries its membership with it and a newcomer on
a reused address has none. Dovecot gets them as `acl_groups`; the folders of the shared
mailbox carry ACLs for its groups, written once when it is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.limits import check_account_fits
from mailgothai.core.quota import parse_size
from mailgothai.core.reasons import Why
from mailgothai.core.shared import Member, Right, SharedMailbox, member_acl, parse_rights
from mailgothai.core.text import check_text
from mailgothai.errors import AlreadyExists, InvalidInput, MailGoThaiError
from mailgothai.services import ports
from mailgothai.services.base import Service
from mailgothai.services.domain_routing import login_names


@dataclass(frozen=True)
class SharedListing:
    shared: SharedMailbox
    members: tuple[Member, ...]

    def as_dict(self) -> dict[str, object]:
        """What the CLI's --json and the API show."""
        s = self.shared
        return {"address": s.address, "domain": s.domain, "name": s.name, "quota": s.quota,
                "status": s.status.value, "mailbox_id": s.mailbox_id,
                "members": [{"email": m.email, "rights": [r.value for r in Right if r in m.rights],
                             "active": m.active} for m in self.members]}


class SharedMailboxService(Service):
    @property
    def _dir(self) -> ports.SharedMailboxes:
        if self.b.shared is None:
            raise MailGoThaiError("shared mailboxes are not available with these backends")
        return self.b.shared

    # ---- reading ---------------------------------------------------------------
    def get(self, address: str) -> SharedMailbox:
        address = normalize_address(address, "address")
        self.actor.require_domain(split_address(address)[1])
        return self._dir.get(address)

    def show(self, address: str) -> SharedListing:
        shared = self.get(address)
        return SharedListing(shared, tuple(self._dir.members(shared)))

    def for_domain(self, domain: str) -> list[SharedListing]:
        domain = normalize_domain(domain)
        self.actor.require_domain(domain)
        self.b.domains.get(domain)
        return [SharedListing(s, tuple(self._dir.members(s))) for s in self._dir.iter_domain(domain)]

    # ---- writing ---------------------------------------------------------------
    def add(self, address: str, *, name: str = "", quota: str | int | None = None) -> SharedMailbox:
        address = normalize_address(address, "address")
        domain_name = split_address(address)[1]
        self.actor.require_domain(domain_name)
        domain = self.b.domains.get(domain_name)
        name = check_text(name, "name")
        size = domain.limits.default_quota if quota in (None, "") else parse_size(quota, "quota")
        holder = self.b.aliases.holder_of(address)
        if holder:
            raise AlreadyExists("address", address, f"in use by an {holder}")
        # Room in the domain's quota pool first (atomic), given back if the entry fails.
        self.b.domains.adjust_usage(domain.name, 0, size, check=lambda current: check_account_fits(current, size, 0))
        try:
            shared = self._dir.create(SharedMailbox(address, domain.name, name, size))
        except BaseException:
            self.b.domains.adjust_usage(domain.name, 0, -size)
            raise
        self.b.doveadm.flush_auth_cache([address])
        if self.b.doveadm.available:
            try:  # its folders' ACLs name its groups; without them nobody could reach it: undo
                self.b.doveadm.share_mailbox(address, member_acl(shared.mailbox_id))
            except BaseException:
                self._dir.delete(address)
                self.b.domains.adjust_usage(domain.name, 0, -size)
                self.b.mailboxes.remove(shared.mailbox_id)
                raise
        self.audit("shared.create", "shared_mailbox", address, domain.name, after=shared)
        return shared

    def add_member(self, address: str, member: str, rights: str | list[str] | tuple[str, ...]) -> Member:
        """Make `member` (an account of the shared mailbox's domain) a member with exactly
        these rights (a member already there gets them instead of its old ones)."""
        shared = self.get(address)
        wanted = parse_rights(rights)
        email = self._member(shared, member)
        before = self._dir.rights_of(email, shared)
        self._dir.set_rights(email, shared, wanted)
        after = Member(email, wanted)
        self.audit("shared.member.set" if before else "shared.member.add", "shared_mailbox", shared.address,
                   shared.domain, before=_member_record(email, before), after=_member_record(email, wanted))
        self._refresh(email, lost_access=bool(before - wanted))
        return after

    def remove_member(self, address: str, member: str) -> None:
        shared = self.get(address)
        email = self._member(shared, member)
        before = self._dir.rights_of(email, shared)
        if not before:
            raise InvalidInput("member", Why.SHARED_NOT_A_MEMBER(value=repr(email), shared=shared.address))
        self._dir.set_rights(email, shared, frozenset())
        self.audit("shared.member.remove", "shared_mailbox", shared.address, shared.domain,
                   before=_member_record(email, before))
        self._refresh(email, lost_access=True)

    def remove(self, address: str) -> None:
        """Remove an empty shared mailbox: its members lose it, its quota goes back to the
        domain's pool, its (empty) mailbox is deleted. One holding mail is refused: the
        agency's correspondence is never deleted along with it."""
        shared = self.get(address)
        held = self.b.mailboxes.count_messages(shared.mailbox_id)
        if held:
            raise InvalidInput("address", Why.SHARED_NOT_EMPTY(value=shared.address, count=held))
        members = self._dir.members(shared)
        for member in members:
            self._dir.set_rights(member.email, shared, frozenset())
        if self.b.doveadm.available:
            groups = list(member_acl(shared.mailbox_id))
            self.b.doveadm.unshare_mailbox(shared.address, groups)
        self._dir.delete(shared.address)
        self.b.domains.adjust_usage(shared.domain, 0, -shared.quota)
        self.b.mailboxes.remove(shared.mailbox_id)
        # its quarantined mail goes too, as a deleted account's does: never a new holder's to list or release
        dropped = self.b.quarantine.drop_address(shared.address) if self.b.quarantine is not None else 0
        self.audit("shared.delete", "shared_mailbox", shared.address, shared.domain,
                   before={"address": shared.address, "name": shared.name, "quota": shared.quota,
                           "mailbox_id": shared.mailbox_id, "members": [m.email for m in members]},
                   after={"quarantined_dropped": dropped} if dropped else None)
        self.b.doveadm.flush_auth_cache([shared.address, *login_names(self.b, [m.email for m in members])])
        self.b.end_sessions([m.email for m in members])

    def _member(self, shared: SharedMailbox, member: str) -> str:
        email = normalize_address(member, "member")
        member_domain = split_address(email)[1]
        if member_domain != shared.domain:
            raise InvalidInput("member", Why.SHARED_MEMBER_OTHER_DOMAIN(value=repr(email), domain=shared.domain))
        account = self.b.accounts.find(email)
        if account is None:
            raise InvalidInput("member", Why.SHARED_MEMBER_UNKNOWN(value=repr(email), domain=shared.domain))
        return account.email

    def _refresh(self, email: str, *, lost_access: bool) -> None:
        """Dovecot reads the member's groups at its next login (its cached userdb answer
        flushed); a member who lost a right is disconnected so it holds none a moment
        longer. The relay of this node drops its cached answers (send-as)."""
        self.b.doveadm.flush_auth_cache(login_names(self.b, [email]))  # also under alias-domain names
        if lost_access:
            self.b.doveadm.kick([email])
        self.b.tell_relay()


def _member_record(email: str, rights: frozenset[Right]) -> dict[str, str]:
    return {"member": email, "rights": ",".join(r.value for r in Right if r in rights)}

