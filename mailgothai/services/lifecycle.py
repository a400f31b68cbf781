"""An account's life after its creation: deleted into retention, restored, its mail handed
over to a successor, renamed. A mailbox belongs to its account (its identity is the
entry's entryUUID), so an address that changes hands never reaches another's mail.

Who may act: an account's domain admins and operators, as for every account change;
outside its domains a domain admin finds nothing (NotFound, as everywhere). Holds and the
purge are the operators' (services/holds.py, services/purge.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.limits import check_account_fits
from mailgothai.core.models import Account, Alias, Domain, RetainedAccount, Role
from mailgothai.core.reasons import Why
from mailgothai.core.retention import DEFAULT_RETENTION_DAYS, handover_folder, looks_like_mailbox_id, purge_date
from mailgothai.core.shared import rights_text
from mailgothai.core.totp_box import resealer
from mailgothai.errors import AlreadyExists, InvalidInput, MailGoThaiError, MailStoreError, NotFound
from mailgothai.services.actor import Actor
from mailgothai.services.auth import Clock, utcnow
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service
from mailgothai.services.domain_routing import login_names


@dataclass(frozen=True)
class Restored:
    account: Account
    dropped_aliases: tuple[str, ...]  # aliases another entry took while it was deleted


@dataclass(frozen=True)
class Handover:
    retained: RetainedAccount
    successor: str
    folder: str  # where the mail is now in the successor's mailbox
    messages: int  # how many were copied


def find_retained(b: Backends, actor: Actor, ref: str) -> RetainedAccount:
    """A deleted account by its mailbox id, or by its address when it was deleted once
    (several deletions of one address need the id). Outside the actor's domains: NotFound."""
    ref = ref.strip()
    if looks_like_mailbox_id(ref):
        found = b.retained.by_id(ref.lower())
        candidates = [found] if found is not None else []
    else:
        candidates = b.retained.by_address(normalize_address(ref, "account"))
    candidates = [r for r in candidates if actor.may_manage(r.domain)]
    if not candidates:
        raise NotFound("deleted account", ref)
    if len(candidates) > 1:
        ids = ", ".join(f"{r.mailbox_id} ({r.deleted_at:%Y-%m-%d %H:%M})" for r in candidates)
        raise InvalidInput("account", Why.DELETED_SEVERAL_TIMES(address=candidates[0].email, times=len(candidates),
                                                                ids=ids))
    return candidates[0]


class LifecycleService(Service):
    def __init__(self, backends: Backends, actor: Actor, clock: Clock = utcnow) -> None:
        super().__init__(backends, actor)
        self.clock = clock

    # ---- deleting: into retention -----------------------------------------------------
    def retire(self, account: Account, domain: Domain | None) -> RetainedAccount:
        """Delete a live account (rights already checked) into retention for its domain's
        period. Login and delivery end at once: the entry leaves ou=domains in one step,
        Dovecot forgets it, open IMAP sessions are ended."""
        retained = self._retire(account, domain, self._sizes([account.email]).get(account.email))
        self.b.domains.adjust_usage(account.domain, -1, -account.quota)
        self._gone([account.email])
        return retained

    def retire_all(self, domain: Domain) -> int:
        """Every account of a domain that is being deleted, a page at a time (never the
        whole domain in memory): sizes read in one doveadm call per page, Dovecot flushed
        and the domain's sessions ended once, not once per account. The domain's counters
        are left alone: the domain goes. Returns how many."""
        done = 0
        while True:
            accounts = self.b.accounts.first_page(domain.name, 500, with_identity=True)[0]
            if not accounts:
                break
            sizes = self._sizes([a.email for a in accounts])
            for account in accounts:
                self._retire(account, domain, sizes.get(account.email))
            self.b.snapshots.forget([a.email for a in accounts])
            done += len(accounts)
        self.b.doveadm.flush_all()
        self.b.end_sessions([f"*@{domain.name}"])
        return done

    def _retire(self, account: Account, domain: Domain | None, size: int | None) -> RetainedAccount:
        now = self.clock()
        days = domain.limits.retention_days if domain is not None else DEFAULT_RETENTION_DAYS
        retained = self.b.retained.retire(account, now, self.actor.login, purge_date(now, days), size)
        self.audit("account.delete", "account", account.email, account.domain, before=account, after=retained)
        if self.b.logins is not None and retained.mailbox_id:  # its last login goes with it (issue 17)
            self.b.logins.forget(retained.mailbox_id)
        if self.b.spam is not None:  # and its allow and block lists (issue 18): a new holder inherits none
            self.b.spam.drop_owner(account.email)
        if self.b.quarantine is not None:  # and its quarantined mail: never a new holder's to list or release
            self.b.quarantine.drop_address(account.email)
        if self.b.password_lifecycle is not None:  # its expiry warnings: a new holder gets its own
            self.b.password_lifecycle.drop_warnings(account.email)
        if self.b.account_secrets is not None:  # its TOTP secret, pending or on, and recovery codes (issue
            # 20): kept by address, so they go now, never to a new holder; a restored entry still marked
            # asks for a code nothing answers until an admin turns its second factor off
            self.b.account_secrets.forget_login(account.email)
        return retained

    def _sizes(self, addresses: list[str]) -> dict[str, int]:
        """The mailboxes' sizes as Dovecot counts them (one doveadm call), else their last
        usage readings; an address with neither is left out."""
        sizes: dict[str, int] = {}
        if self.b.doveadm.available:
            try:
                sizes = self.b.doveadm.quota_many(addresses)
            except MailGoThaiError:
                pass
        missing = [a for a in addresses if a not in sizes]
        if missing:
            readings = self.b.snapshots.readings(missing)
            sizes.update({a: r.used_bytes for a, r in readings.items()})
        return sizes

    def _gone(self, addresses: list[str]) -> None:
        """The addresses no longer reach the mailbox they reached: Dovecot's cached logins
        and open sessions end, the relay of this node drops its cached answers, and usage
        readings kept by address are forgotten (a new holder starts with none)."""
        self.b.doveadm.flush_auth_cache(login_names(self.b, addresses))
        self.b.end_sessions(addresses)
        self.b.snapshots.forget(addresses)

    # ---- reading ------------------------------------------------------------------------
    def deleted(self, domain: str) -> list[RetainedAccount]:
        """A domain's deleted accounts still kept, newest first. Operators may list those of
        a domain that no longer exists."""
        domain = normalize_domain(domain)
        self.actor.require_domain(domain)
        if self.b.domains.find(domain) is None and self.actor.role is not Role.SUPERADMIN:
            raise NotFound("domain", domain)
        return sorted(self.b.retained.iter_domain(domain), key=lambda r: r.deleted_at, reverse=True)

    def get_deleted(self, ref: str) -> RetainedAccount:
        return find_retained(self.b, self.actor, ref)

    # ---- restore and hand over --------------------------------------------------------
    def restore(self, ref: str, as_address: str | None = None) -> Restored:
        """Bring a deleted account back with its mailbox: at its own address, or at another
        free address of the same domain."""
        retained = find_retained(self.b, self.actor, ref)
        _not_purging(retained)
        target = normalize_address(as_address, "as") if as_address else retained.email
        if split_address(target)[1] != retained.domain:
            raise InvalidInput("as", Why.NOT_IN_ACCOUNT_DOMAIN(domain=retained.domain))
        domain = self.b.domains.find(retained.domain)
        if domain is None:
            raise InvalidInput("account", Why.DOMAIN_GONE(domain=retained.domain))
        holder = self.b.aliases.holder_of(target)
        if holder:
            raise AlreadyExists("address", target, f"in use by an {holder}; restore it under another address")
        kept = tuple(a for a in retained.account.aliases if a != target and not self.b.aliases.holder_of(a))
        dropped = tuple(a for a in retained.account.aliases if a not in kept and a != target)
        quota = retained.account.quota
        self.b.domains.adjust_usage(domain.name, 1, quota, check=lambda current: check_account_fits(current, quota))
        try:
            if kept != retained.account.aliases:
                self.b.retained.drop_aliases(retained, kept)
            self.b.retained.restore(retained, target)
        except BaseException:
            self.b.domains.adjust_usage(domain.name, -1, -quota)
            raise
        account = self.b.accounts.get(target)
        self.audit("account.restore", "account", target, account.domain, before=retained, after=account)
        self.b.doveadm.flush_auth_cache([target])
        self.b.tell_relay()
        return Restored(account, dropped)

    def handover(self, ref: str, successor: str) -> Handover:
        """Copy a deleted account's mail (every folder, flags kept) into a folder of the
        successor's mailbox, Archive/<old address>. The deleted account keeps its own copy
        until its purge; nothing else of it (password, aliases) goes to the successor."""
        retained = find_retained(self.b, self.actor, ref)
        _not_purging(retained)
        successor = normalize_address(successor, "to")
        self.actor.require_domain(split_address(successor)[1])
        heir = self.b.accounts.get(successor)
        source = self.b.mailboxes.maildir(retained.mailbox_id)
        if not self.b.mailboxes.root.is_dir() or not self.b.doveadm.available:
            raise MailStoreError("the mail store is not on this machine: run the handover on a Dovecot node")
        folder = handover_folder(retained.email, frozenset(self.b.doveadm.folders(heir.email)))
        messages = self.b.mailboxes.count_messages(retained.mailbox_id)
        self.b.doveadm.create_folder(heir.email, folder)
        if source.is_dir():
            self.b.doveadm.import_mail(heir.email, source, folder)
        done = Handover(retained, heir.email, folder, messages)
        self.audit("account.handover", "account", retained.email, retained.domain, before=retained,
                   after={"successor": heir.email, "folder": folder, "messages": messages})
        return done

    # ---- rename -------------------------------------------------------------------------
    def rename(self, old: str, new: str, *, keep_old_as_alias: bool = False) -> Account:
        """Give an account a new address; its mailbox, password, quota, aliases and forwards
        stay. The new address may be one of its own aliases; aliases of the actor's domains
        that deliver to the old address deliver to the new one."""
        old = normalize_address(old)
        self.actor.require_domain(split_address(old)[1])
        before = self.b.accounts.get(old)
        new = normalize_address(new, "new_address")
        new_domain = split_address(new)[1]
        self.actor.require_domain(new_domain)
        if new.lower() == before.email.lower():
            raise InvalidInput("new_address", Why.SAME_ADDRESS())
        target = self.b.domains.get(new_domain)
        if new not in before.aliases:
            holder = self.b.aliases.holder_of(new)
            if holder:
                raise AlreadyExists("address", new, f"in use by an {holder}")
        aliases = tuple(a for a in before.aliases if a != new) + ((before.email,) if keep_old_as_alias else ())
        source = split_address(before.email)[1]  # where the entry is (its domainName may lag a killed rename)
        moves = new_domain != source
        if moves:
            self.b.domains.adjust_usage(target.name, 1, before.quota,
                                        check=lambda current: check_account_fits(current, before.quota))
        try:
            self.b.accounts.rename(before, new, aliases)
        except BaseException:
            if moves:
                self.b.domains.adjust_usage(target.name, -1, -before.quota)
            raise
        if moves:
            self.b.domains.adjust_usage(source, -1, -before.quota)
        after = self.b.accounts.get(new)
        self.audit("account.rename", "account", new, new_domain, before=before, after=after)
        if self.b.logins is not None and after.mailbox_id:  # the last login stays the account's (issue 17)
            self.b.logins.moved(after.mailbox_id, after.email, after.domain)
        if self.b.spam is not None:  # its allow and block lists follow it (issue 18)
            self.b.spam.move_owner(before.email, after.email)
        if self.b.quarantine is not None:  # its quarantined mail, to list and release at the new address
            self.b.quarantine.move_address(before.email, after.email)
        if self.b.password_lifecycle is not None:  # a password expiry warning is not sent again
            self.b.password_lifecycle.move_warnings(before.email, after.email)
        if self.b.account_secrets is not None:  # and its second factor (issue 20): a rename never drops it
            self.b.account_secrets.move_login(before.email, after.email,
                                              resealer(str(self.b.settings.web_secret_key), before.email, after.email))
        if not keep_old_as_alias:
            self._repoint_members(before.email, new)
        left = self._leave_shared(before.email, after.email, source) if moves else False
        self._gone([before.email])
        self.b.doveadm.flush_auth_cache([new])
        if left:  # a session opened at the new address in between held the old domain's groups
            self.b.doveadm.kick([new])
        return after

    def _leave_shared(self, old: str, new: str, source: str) -> bool:
        """Renamed into another domain: the account is no longer a member of the shared
        mailboxes of the domain it left (members are accounts of the shared mailbox's
        domain; the old domain's admins could neither see nor remove it any more). Each
        membership ended is audited as the shared mailbox's. True if there was one."""
        if self.b.shared is None:
            return False
        left = False
        for shared in list(self.b.shared.iter_domain(source)):
            rights = self.b.shared.rights_of(new, shared)
            if not rights:
                continue
            self.b.shared.set_rights(new, shared, frozenset())
            self.audit("shared.member.remove", "shared_mailbox", shared.address, shared.domain,
                       before={"member": old, "rights": rights_text(rights)}, after={"renamed_to": new})
            left = True
        return left

    def _repoint_members(self, old: str, new: str) -> None:
        """Aliases of the actor's domains that list the old address list the new one."""
        for alias in self.b.aliases.with_member(old):
            if not self.actor.may_manage(alias.domain):
                continue
            members = tuple(dict.fromkeys(new if m.lower() == old.lower() else m for m in alias.members))
            self.b.aliases.set_members(alias.address, members)
            after = Alias(alias.address, alias.domain, members, alias.status)
            self.audit("alias.update", "alias", alias.address, alias.domain, before=alias, after=after)


def _not_purging(retained: RetainedAccount) -> None:
    if retained.purging:
        raise InvalidInput("account", Why.PURGE_BEGUN_RESTORE(address=retained.email))
