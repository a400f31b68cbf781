"""Who holds many addresses at once: one search per batch instead of one per address.

Used by the importer to check a batch of rows against the directory (existing accounts,
account aliases, alias entries) with a single equality-indexed OR filter.
"""

from __future__ import annotations

from typing import Iterable

from mailgothai.core.csvimport.planning import Holder
from mailgothai.directory import accounts as account_entries
from mailgothai.directory import escaping as f
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout

BATCH = 100  # addresses per search: 200 equality terms
ATTRS = ("objectClass", *account_entries.ATTRS)


def holders_of(gateway: Gateway, layout: Layout, addresses: Iterable[str]) -> dict[str, Holder]:
    """address -> the entry holding it, for every given address that is held."""
    wanted = list(dict.fromkeys(addresses))
    found: dict[str, Holder] = {}
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start:start + BATCH]
        terms = [t for a in batch for t in (f.eq("mail", a), f.eq("mgtAliasAddress", a))]
        asked = set(batch)
        for entry in gateway.search(layout.domains, f.any_of(*terms), ATTRS):
            classes = {c.lower() for c in entry.all("objectClass")}
            mail = entry.first("mail").lower()
            if "mgtalias" in classes:
                found.setdefault(mail, Holder(mail, "alias", mail))
                continue
            if "mgtaccount" not in classes:
                continue
            account = account_entries.to_account(entry)
            if mail in asked:
                found[mail] = Holder(mail, "account", mail, account)
            for alias in account.aliases:
                if alias.lower() in asked:
                    found.setdefault(alias.lower(), Holder(alias.lower(), "account alias", mail))
    return found
