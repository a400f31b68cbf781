"""The directory reads of last logins (issue 17), each one search however many accounts:
whose mailbox a batch of logins belongs to, every account of a domain (mailbox id and
address, to match the SQL rows with), and the accounts of one page by their mailbox ids."""

from __future__ import annotations

from collections.abc import Sequence

from mailgothai.core.last_login import Owner
from mailgothai.core.models import Account
from mailgothai.directory import escaping as f
from mailgothai.directory.accounts import ONE_ATTRS, to_account
from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout

OWNER_ATTRS = ("objectClass", "mail", "domainName", "entryUUID")
CHUNK = 500


def _is_account(entry: Entry) -> bool:
    return any(v.lower() == b"mgtaccount" for v in entry.attrs.get("objectclass", ()))


class LoginOwners:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    def resolve(self, logins: Sequence[str]) -> dict[str, Owner]:
        """The live account of each login (by its address, any case; keys lower-cased);
        a login that is no live account's address is left out."""
        wanted = sorted({login.strip().lower() for login in logins if "@" in login})
        out: dict[str, Owner] = {}
        for start in range(0, len(wanted), CHUNK):
            for entry in self._gw.search_equal(self._layout.domains, "mail", wanted[start:start + CHUNK],
                                               OWNER_ATTRS):
                mailbox_id, address = entry.first("entryUUID"), entry.first("mail")
                if _is_account(entry) and mailbox_id and address:
                    out[address.lower()] = Owner(mailbox_id, address, entry.first("domainName"))
        return out

    def of_domain(self, domain: str) -> dict[str, str]:
        """Every live account of the domain: mailbox id → address (a paged search)."""
        flt = f.all_of(f.eq("objectClass", "mgtAccount"), f.eq("domainName", domain))
        return {e.first("entryUUID"): e.first("mail")
                for e in self._gw.iter_paged(self._layout.users(domain), flt, ("mail", "entryUUID"), page_size=1000)
                if e.first("entryUUID")}

    def accounts(self, domain: str, mailbox_ids: Sequence[str]) -> dict[str, Account]:
        """The domain's live accounts with these mailbox ids (entryUUID is equality-indexed)."""
        if not mailbox_ids:
            return {}
        found = self._gw.search_equal(self._layout.users(domain), "entryUUID", list(mailbox_ids), ONE_ATTRS)
        accounts = (to_account(e) for e in found)
        return {a.mailbox_id: a for a in accounts if a.mailbox_id}
