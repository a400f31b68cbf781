"""Inbound protection in the relay (issue 18): the SMTP hooks' side of core/spam.py.

- RCPT (unauthenticated mail): each hosted recipient's domain policy and the allow and
  block lists of its domain and of the mailbox (read through TTL caches, so the steady
  state asks SQL nothing), a blocked envelope sender refused for that recipient, and a
  recipient under another PolicyKey than the transaction's first answered 452 4.5.3 (it
  comes in the client's next transaction: one message, one decision).
- DATA (unauthenticated): rspamd's scan (relay/rspamd.py) decided under that key
  (`core.spam.decide`) into a refusal, a quarantine, or the X-Spam fields and the
  Authentication-Results of a delivered message. For a domain without greylisting
  rspamd's greylist module is switched off for the request (its Settings header): a
  message it holds "too early" is not scanned further, so ignoring its GREYLIST would
  deliver unscanned mail. rspamd unreachable, hung or answering
  nonsense: 451 4.7.1 within `rspamd_timeout` (never 250 and lose, never 5xx), or, with
  `rspamd_unavailable = "accept"`, delivered marked `X-Spam-Status: unscanned`.
- DATA (authenticated, `scan_submission = 1`, not Sieve mail): scanned for viruses only
  (rspamd's per-request Settings enable only the antivirus symbols; rspamd 3.4 honours
  them); a virus is refused 554 5.7.1, nothing else of rspamd's counts.
- Every outcome but a plain delivery is counted per recipient domain (the dashboard),
  batched and written from a worker thread, never on the SMTP reply's path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mailgothai.core import policy as p
from mailgothai.core.scan_results import UNSCANNED, sender_authenticated, verdict_headers
from mailgothai.core.spam import (
    VIRUS_SYMBOLS,
    Decision,
    ListKind,
    PolicyKey,
    Scan,
    SenderRule,
    SpamPolicy,
    Verdict,
    decide,
    listed,
)
from mailgothai.errors import MailGoThaiError
from mailgothai.relay.delivery import log_message
from mailgothai.relay.lookup import TtlCache, cached_or_thread
from mailgothai.relay.rspamd import RspamdClient, ScanRequest, ScanUnavailable
from mailgothai.relay.spool import Envelope
from mailgothai.settings import Settings

log = logging.getLogger("mailgothai.relay")

BLOCKED = "blocked"  # the outcome counted for a sender on a block list (core/spam_records.py)
FLUSH_SECONDS = 2.0  # counts wait at most this long before they are written
# only the antivirus runs on authenticated mail (rspamd's Settings header, per request)
VIRUS_ONLY = {"symbols_enabled": sorted(VIRUS_SYMBOLS | {f"{s}_FAIL" for s in VIRUS_SYMBOLS})}
# a domain without greylisting: rspamd's greylist module must not run at all, for a
# message it holds "too early" is not scanned further (score 0, GREYLIST only)
NO_GREYLISTING = {"symbols_disabled": ["GREYLIST_CHECK", "GREYLIST_SAVE"]}


class PolicySource(Protocol):
    """The policy store's part the relay reads (store/spam_policy.py SpamPolicies)."""

    def policy_of(self, domain: str) -> SpamPolicy: ...

    def rules_for(self, domain: str, address: str) -> tuple[SenderRule, ...]: ...

    def rule_owners(self, domain: str) -> frozenset[str]: ...

    def record(self, domain: str, outcome: str, count: int = 1) -> None: ...


class Keeper(Protocol):
    """The quarantine (relay/quarantine.py): keeps a message durably (blocking), its id."""

    def keep(self, envelope: Envelope, message: bytes, scan: Scan, domain: str, days: int,
             scopes: Mapping[str, str] | None = None) -> str: ...


@dataclass
class SpamState:
    """One transaction's protection facts (unauthenticated mail)."""

    key: PolicyKey | None = None  # the first hosted recipient's; every other must match it
    domains: list[str] = field(default_factory=list)  # the recipients' domains (policies), first first
    # an accepted recipient's lists owner (the RCPT TO, or the one mailbox it reaches) -> the
    # hosted domain whose policy it took: for an RCPT TO at an alias domain, the domain it
    # stands for (whose admins see its quarantined rows: `scopes`)
    stands_for: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Inbound:
    """What DATA does with an unauthenticated message: refuse it (`reply`), keep it in the
    quarantine (`keep`), or deliver it with `headers` added; `scan`: rspamd's, if it answered."""

    reply: p.Reply | None = None
    headers: bytes = b""
    scan: Scan | None = None
    keep: bool = False
    decision: Decision | None = None


class Tally:
    """Outcome counts per domain, written in batches from a worker thread."""

    def __init__(self, source: PolicySource, every: float = FLUSH_SECONDS) -> None:
        self._source = source
        self._every = every
        self._pending: Counter[tuple[str, str]] = Counter()
        self._totals: Counter[tuple[str, str]] = Counter()  # since the start (relay/metrics.py)
        self._lock = threading.Lock()
        self._flushing: asyncio.Task[None] | None = None

    def add(self, domains: Iterable[str], outcome: str) -> None:
        with self._lock:
            for domain in dict.fromkeys(domains):
                self._pending[(domain, outcome)] += 1
                self._totals[(domain, outcome)] += 1
        if self._flushing is None or self._flushing.done():
            try:
                self._flushing = asyncio.get_running_loop().create_task(self._later())
            except RuntimeError:  # no loop (a blocking caller): written at the next flush
                pass

    def totals(self) -> dict[tuple[str, str], int]:
        """(domain, outcome) -> count since the relay started."""
        with self._lock:
            return dict(self._totals)

    async def _later(self) -> None:
        await asyncio.sleep(self._every)
        await asyncio.to_thread(self.flush)

    async def aclose(self) -> None:
        """The timer stopped, what waits written (the relay stops)."""
        if self._flushing is not None and not self._flushing.done():
            self._flushing.cancel()
        await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        """Blocking: writes what waits; a count that cannot be written is logged and dropped."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        for (domain, outcome), count in pending.items():
            try:
                self._source.record(domain, outcome, count)
            except MailGoThaiError as exc:
                log.warning("protection count %s %s (+%d) not written: %s", domain, outcome, count, exc)


class PolicyCache:
    """`policy_of` and `rules_for` answers kept `ttl` seconds (like relay/lookup.py's)."""

    def __init__(self, source: PolicySource, ttl: float) -> None:
        self._source = source
        self._policies: TtlCache[str, SpamPolicy] = TtlCache(ttl)
        self._rules: TtlCache[tuple[str, str], tuple[SenderRule, ...]] = TtlCache(ttl)
        self._owners: TtlCache[str, frozenset[str]] = TtlCache(ttl)

    def lookup(self, domain: str, mailbox: str) -> tuple[SpamPolicy, tuple[SenderRule, ...]]:
        """Reads only (see `cached_or_thread`). Which of the domain's addresses have rules is
        read once per domain: a mailbox of the domain with none of its own shares the
        domain's rules, so mail to a new recipient costs no query."""
        policy = self._policies.get(domain, lambda: self._source.policy_of(domain))
        owners = self._owners.get(domain, lambda: self._source.rule_owners(domain))
        own = mailbox if mailbox in owners or not mailbox.endswith("@" + domain) else ""
        rules = self._rules.get((domain, own), lambda: self._source.rules_for(domain, own))
        return policy, rules

    def clear(self) -> None:
        self._policies.clear()
        self._rules.clear()
        self._owners.clear()


def _printable(text: str, limit: int = 200) -> str:
    return "".join(c for c in text if c.isprintable() and c.isascii())[:limit]


def _log_refused(request: ScanRequest, reply: p.Reply, outcome: str, detail: str, scan: Scan | None = None) -> None:
    """One JSON line in the relay's message log, beside its `accepted` lines."""
    top = sorted(((n, s) for n, s in scan.symbols.items() if s), key=lambda item: -item[1])[:10] if scan else []
    log_message("refused", queue_id=request.queue_id, client=request.ip, sender=request.sender,
                auth_user=request.user or None, recipients=list(request.recipients),
                reply=f"{reply.code} {reply.status}", outcome=outcome, detail=detail[:200],
                score=scan.score if scan else None, symbols=dict(top))


def scopes(envelope: Envelope, state: SpamState) -> dict[str, str]:
    """Each target's address -> the hosted domain whose admins see its quarantined row: the
    domain its RCPT TO named when that is a hosted domain (one of the policies' domains), else
    (an RCPT TO at an alias domain: user@NEW is user@EXISTING) the domain it stood for at RCPT,
    found by its lists owner (the RCPT TO, or the one mailbox it reached), or the
    transaction's only domain. A target found none of these ways (the bare <postmaster>; a
    forward of an alias-domain address beside mail to other domains) keeps its RCPT TO's
    domain: seen by operators only, never by another domain's admins."""
    out: dict[str, str] = {}
    for target in envelope.targets:
        local, _, named = target.original.rpartition("@")
        named = named.lower()
        if not local or named in state.domains:
            continue
        hosted = state.stands_for.get(target.original) or state.stands_for.get(target.address)
        if hosted is None and len(state.domains) == 1:
            hosted = state.domains[0]
        if hosted is not None:
            out[target.address] = hosted
    return out


REFUSALS = {
    Verdict.VIRUS: lambda d: p.reply(p.R.VIRUS_FOUND, virus=_printable(d.detail, 100) or "unknown"),
    Verdict.DMARC_REJECT: lambda d: p.reply(p.R.DMARC_REJECTED),
    Verdict.REJECT: lambda d: p.reply(p.R.SPAM_REJECTED, detail=f": {_printable(d.detail)}" if d.detail else ""),
    Verdict.GREYLIST: lambda d: p.reply(p.R.GREYLISTED),
    Verdict.TEMPFAIL: lambda d: p.reply(p.R.SCAN_DEFERRED),
}


class Protection:
    def __init__(self, settings: Settings, client: RspamdClient, source: PolicySource,
                 keeper: Keeper | None) -> None:
        self.settings = settings
        self.client = client
        self.policies = PolicyCache(source, settings.relay_lookup_cache_ttl)
        self.tally = Tally(source)
        self.keeper = keeper

    # ---- RCPT ---------------------------------------------------------------------------
    async def at_rcpt(self, state: SpamState, sender: str, domain: str, mailbox: str) -> p.Reply | None:
        """A hosted recipient (its domain's policy, `mailbox` the one whose lists count) of
        an unauthenticated transaction: None to accept it, else the refusal. Raises
        MailGoThaiError when the store cannot be read."""
        policy, rules = await cached_or_thread(self.policies.lookup, domain, mailbox)
        kind = listed([sender], rules)
        if kind is ListKind.BLOCK:
            log.info("RCPT %s: sender %s blocked by the recipient's list", mailbox, sender or "<>")
            self.tally.add([domain], BLOCKED)
            return p.reply(p.R.SENDER_BLOCKED, sender=sender or "<>")
        key = PolicyKey(policy, kind is ListKind.ALLOW)
        if state.key is None:
            state.key = key
        elif key != state.key:
            log.info("RCPT %s: under another spam policy than the transaction's first: 452, next transaction", mailbox)
            return p.reply(p.R.OTHER_POLICY_NEXT)
        if domain not in state.domains:
            state.domains.append(domain)
        state.stands_for.setdefault(mailbox, domain)
        return None

    # ---- DATA -----------------------------------------------------------------------------
    async def _scan(self, message: bytes, request: ScanRequest) -> Scan:
        scan = await self.client.check(message, request)
        failed = sorted(f"{s}_FAIL" for s in VIRUS_SYMBOLS if f"{s}_FAIL" in scan.symbols)
        if failed:  # the antivirus did not run (clamd down): not a clean message
            raise ScanUnavailable(f"rspamd's antivirus failed ({', '.join(failed)})")
        return scan

    async def inbound(self, message: bytes, request: ScanRequest, state: SpamState) -> Inbound:
        """Scan and decide an unauthenticated message (as sent: rspamd reads no X-Spam field)."""
        key = state.key or PolicyKey(SpamPolicy(), False)
        if not key.policy.greylisting:
            request = dataclasses.replace(request, settings=NO_GREYLISTING)
        try:
            scan = await self._scan(message, request)
        except ScanUnavailable as exc:
            if self.settings.rspamd_unavailable == "accept":
                log.warning("DATA %s: not scanned, accepted unscanned (rspamd_unavailable = accept): %s",
                            request.queue_id, exc)
                return Inbound(headers=UNSCANNED)
            log.warning("DATA %s: refused 451 SCAN_DEFERRED: %s", request.queue_id, exc)
            _log_refused(request, p.reply(p.R.SCAN_DEFERRED), "unscanned", str(exc))
            return Inbound(reply=p.reply(p.R.SCAN_DEFERRED))
        decision = decide(scan, key, sender_authenticated=sender_authenticated(scan, request.sender))
        verdict = decision.verdict
        if verdict is not Verdict.DELIVER and verdict is not Verdict.QUARANTINE:
            self.tally.add(state.domains, verdict.value)  # a quarantine is counted once it is kept
        refusal = REFUSALS.get(verdict)
        if refusal is not None:
            reply = refusal(decision)
            log.info("DATA %s from %s (%s): refused %s %s (%s, score %.2f, rspamd %r)", request.queue_id,
                     request.sender or "<>", request.ip, reply.code, verdict.value, decision.detail or "-",
                     scan.score, scan.action)
            _log_refused(request, reply, verdict.value, decision.detail, scan)
            return Inbound(reply=reply, scan=scan, decision=decision)
        if verdict is Verdict.QUARANTINE and self.keeper is None:
            log.warning("DATA %s: over the quarantine score but no quarantine here: filed as junk", request.queue_id)
            verdict = Verdict.JUNK
        return Inbound(headers=verdict_headers(verdict is not Verdict.DELIVER, scan), scan=scan,
                       keep=verdict is Verdict.QUARANTINE, decision=decision)

    async def keep(self, envelope: Envelope, message: bytes, scan: Scan, state: SpamState) -> str:
        """Into the quarantine, durably, for the first recipient's domain, each recipient's
        row under the hosted domain it was sent to (`scopes`; raises OSError or
        MailGoThaiError when it could not be kept)."""
        assert self.keeper is not None
        domain = state.domains[0] if state.domains else ""
        days = (state.key.policy if state.key else SpamPolicy()).quarantine_days
        found = scopes(envelope, state)  # none: every row under its RCPT TO's domain, the keeper's default
        keep = functools.partial(self.keeper.keep, scopes=found) if found else self.keeper.keep
        held = await asyncio.to_thread(keep, envelope, message, scan, domain, days)
        self.tally.add(state.domains, Verdict.QUARANTINE.value)
        return held

    async def submission(self, message: bytes, request: ScanRequest) -> p.Reply | None:
        """Authenticated mail: refused only for a virus (554), or 451 when it cannot be
        scanned (unless rspamd_unavailable = accept)."""
        try:
            scan = await self._scan(message, dataclasses.replace(request, settings=VIRUS_ONLY))
        except ScanUnavailable as exc:
            if self.settings.rspamd_unavailable == "accept":
                log.warning("DATA %s (%s): not scanned for viruses, accepted: %s", request.queue_id, request.user, exc)
                return None
            log.warning("DATA %s (%s): refused 451 SCAN_DEFERRED: %s", request.queue_id, request.user, exc)
            return p.reply(p.R.SCAN_DEFERRED)
        virus = scan.virus
        if virus is None:
            return None
        log.warning("DATA %s from %s (%s): refused 554 virus %s", request.queue_id, request.user, request.ip, virus)
        reply = p.reply(p.R.VIRUS_FOUND, virus=_printable(virus, 100) or "unknown")
        _log_refused(request, reply, Verdict.VIRUS.value, virus, scan)
        return reply

    # ---- the relay's life ---------------------------------------------------------------
    def clear(self) -> None:
        """Policies and lists read afresh (SIGUSR1)."""
        self.policies.clear()

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.tally.aclose()

