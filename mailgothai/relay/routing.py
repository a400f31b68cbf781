"""Where a recipient's mail goes: a hosted address expands (account aliases, alias
entries, forwards) to delivery targets; anything else is remote. postmaster@ of a
hosted domain without its own postmaster@ account or alias, and the bare <postmaster>,
go to the operator's postmaster address (RFC 5321 4.5.1); while none is set, they are
accepted and kept in the queue for it (spool.HELD_FOR_POSTMASTER, delivery.py).
An address at an alias domain is the same address at its domain; an unknown address of
a domain with a catch-all goes to the catch-all's mailboxes here (issue 17)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mailgothai.core.addresses import split_address
from mailgothai.core.policy import POSTMASTER, Found, RecipientFacts, domain_of
from mailgothai.relay.lookup import AddressEntry, RelayDirectory
from mailgothai.relay.spool import HELD_FOR_POSTMASTER, Target

log = logging.getLogger("mailgothai.relay")
MAX_DEPTH = 8  # alias → alias → … ; deeper chains are cut (and loops are)


@dataclass(frozen=True)
class Expansion:
    facts: RecipientFacts
    targets: tuple[Target, ...]
    versions: dict[str, str] = field(default_factory=dict)  # local target -> its entry's entryCSN


class Router:
    def __init__(self, directory: RelayDirectory, postmaster: str = "") -> None:
        self._dir = directory
        self._postmaster = postmaster  # normalized, or "" for none
        if not postmaster:
            log.warning("relay_postmaster is not set: mail to postmaster@ of a domain without its own "
                        "postmaster@ account or alias, and to <postmaster>, waits in the queue until "
                        "it is set (and is bounced after the queue's lifetime)")

    def expand(self, address: str) -> Expansion:
        """Blocking (directory reads): call through `cached_or_thread` or from a worker thread."""
        if address == POSTMASTER:
            return self._to_postmaster(address)
        domain = self._dir.domain(domain_of(address))
        if domain is None:
            return Expansion(RecipientFacts(address, hosted=False), (Target(address, address, local=False),))
        if not domain.active:  # an alias domain's is its target's
            return Expansion(RecipientFacts(address, hosted=True, domain_active=False), ())
        # local@ALIAS-DOMAIN is local@ITS-DOMAIN (issue 17); the targets keep `address` as original
        entry = self._dir.address(self._dir.canonical(address))
        if entry is None:
            if split_address(address)[0] == POSTMASTER:
                return self._to_postmaster(address)
            if domain.catch_all:
                return self._to_catch_all(address, domain.catch_all)
            return Expansion(RecipientFacts(address, hosted=True), ())
        found = Found.ALIAS if entry.kind == "alias" else Found.MAILBOX
        if not entry.active:
            return Expansion(RecipientFacts(address, hosted=True, found=found, active=False), ())
        targets: dict[str, Target] = {}
        versions: dict[str, str] = {}
        self._collect(entry, address, targets, versions, {address}, 0)
        facts = RecipientFacts(address, hosted=True, found=found, targets=tuple(targets))
        return Expansion(facts, tuple(targets.values()), versions)

    def _to_postmaster(self, original: str) -> Expansion:
        """`original` (a hosted domain's postmaster@ that no entry holds, or the bare
        postmaster) delivers to the operator's postmaster address, like an alias of it:
        a stranger reaches that one address, never anything else outside. With none set,
        the message is accepted for the queue to keep until one is."""
        targets: dict[str, Target] = {}
        versions: dict[str, str] = {}
        target = self._postmaster
        if not target:
            held = Target(HELD_FOR_POSTMASTER, original, local=False)
            facts = RecipientFacts(original, hosted=True, found=Found.ALIAS, targets=(held.address,))
            return Expansion(facts, (held,))
        domain = self._dir.domain(domain_of(target))
        if domain is None:
            targets[target] = Target(target, original, local=False)
        elif domain.active:
            entry = self._dir.address(target)
            if entry is not None and entry.active:
                self._collect(entry, original, targets, versions, {original, target}, 1)
        facts = RecipientFacts(original, hosted=True, found=Found.ALIAS, targets=tuple(targets))
        return Expansion(facts, tuple(targets.values()), versions)

    def _to_catch_all(self, original: str, catch_all: str) -> Expansion:
        """An unknown address of a domain with a catch-all: delivered like an alias of the
        catch-all address, but to mailboxes here only — its outside forwards and alias
        members are not followed, so a stranger's mail to made-up addresses is never sent
        on. A catch-all address that is gone or suspended (or in a suspended domain), or
        that reaches no mailbox here, leaves the address unknown: 550 5.1.1 at RCPT, never
        accepted and lost; nothing is accepted that would later bounce (no backscatter)."""
        targets: dict[str, Target] = {}
        versions: dict[str, str] = {}
        target = self._dir.canonical(catch_all)
        domain = self._dir.domain(domain_of(target))
        if domain is not None and domain.active:
            entry = self._dir.address(target)
            if entry is not None and entry.active:
                self._collect(entry, original, targets, versions, {original, target}, 1)
        local = {address: t for address, t in targets.items() if t.local}
        if not local:
            return Expansion(RecipientFacts(original, hosted=True), ())
        facts = RecipientFacts(original, hosted=True, found=Found.ALIAS, targets=tuple(local))
        return Expansion(facts, tuple(local.values()), {a: v for a, v in versions.items() if a in local})

    def _collect(self, entry: AddressEntry, original: str, out: dict[str, Target], versions: dict[str, str],
                 seen: set[str], depth: int) -> None:
        if entry.kind == "mailbox":
            out.setdefault(entry.address, Target(entry.address, original, local=True, mailbox=entry.mailbox_id))
            versions.setdefault(entry.address, entry.version)
            nexts = entry.forwards
        else:
            nexts = entry.members
        if depth >= MAX_DEPTH:
            return
        for address in nexts:
            if address in seen:
                continue
            seen.add(address)
            canonical = self._dir.canonical(address)  # a forward or member at an alias domain
            if canonical != address:
                if canonical in seen:
                    continue
                seen.add(canonical)
                address = canonical
            domain = self._dir.domain(domain_of(address))
            if domain is None:
                out.setdefault(address, Target(address, original, local=False))
                continue
            if not domain.active:
                continue
            found = self._dir.address(address)
            if found is not None and found.active:
                self._collect(found, original, out, versions, seen, depth + 1)
            # unknown or suspended local targets of an alias or forward are skipped
