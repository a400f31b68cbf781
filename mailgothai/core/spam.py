"""Inbound protection (issue 18), the rules only: what rspamd's verdict on one message
means for the recipients of one transaction under their domain's policy and the allow
and block lists of their domain and of each of them. No I/O: the relay asks rspamd
(relay/rspamd.py) and the store (policies, lists), then asks `decide`.

One transaction carries recipients of one policy only (`policy_key`): a recipient whose
policy differs from the transaction's first one is answered 452 4.5.3 at RCPT and comes
in the client's next transaction, so every message gets one decision and one reply.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

# rspamd's antivirus module (deploy/rspamd: the clamav rule's symbol) and its DMARC module
VIRUS_SYMBOLS = frozenset({"CLAM_VIRUS"})
DMARC_REJECT_SYMBOL = "DMARC_POLICY_REJECT"
GREYLIST_SYMBOL = "GREYLIST"
SCORE_RANGE = (-100.0, 1000.0)


@dataclass(frozen=True)
class Scan:
    """rspamd's answer to /checkv2, as the relay reads it (relay/rspamd.py parses it)."""

    action: str  # reject | soft reject | rewrite subject | add header | greylist | no action
    score: float
    symbols: Mapping[str, float] = field(default_factory=dict)  # name -> its score
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> its options
    message: str = ""  # rspamd's smtp_message, if it gave one

    @property
    def virus(self) -> str | None:
        """The virus's name (the antivirus symbol's option), or None."""
        for name in VIRUS_SYMBOLS & self.symbols.keys():
            found = self.options.get(name, ())
            return found[0] if found else "unknown"
        return None

    @property
    def dmarc_reject(self) -> bool:
        return DMARC_REJECT_SYMBOL in self.symbols

    @property
    def greylisted(self) -> bool:
        """rspamd's greylist module held it (not yet seen long enough)."""
        return self.action in ("soft reject", "greylist") and GREYLIST_SYMBOL in self.symbols and \
            "greylisted" in " ".join(self.options.get(GREYLIST_SYMBOL, ())).lower()


@dataclass(frozen=True)
class SpamPolicy:
    """One domain's policy. A threshold of None means that outcome is off for the domain
    (e.g. reject None: what would be rejected is quarantined instead)."""

    junk: float | None = 6.0  # X-Spam: Yes, filed into Junk by the operator's Sieve script
    quarantine: float | None = 10.0  # kept by the relay, listed for the admin and the recipient
    reject: float | None = 15.0  # 550 5.7.1 at the end of DATA
    greylisting: bool = True
    quarantine_days: int = 30

    def thresholds(self) -> tuple[tuple[str, float | None], ...]:
        return (("junk", self.junk), ("quarantine", self.quarantine), ("reject", self.reject))


@dataclass(frozen=True)
class PolicyBounds:
    """What a domain admin may set (the operator sets these; the operator itself is not bound)."""

    lowest_score: float = 3.0
    highest_score: float = 50.0
    longest_quarantine_days: int = 90
    may_disable_greylisting: bool = True


def check_policy(policy: SpamPolicy, bounds: PolicyBounds | None = None) -> SpamPolicy:
    """`policy` if it is coherent (and within `bounds`, for a domain admin), else
    InvalidInput naming the field."""
    low, high = (bounds.lowest_score, bounds.highest_score) if bounds else SCORE_RANGE
    for name, value in policy.thresholds():
        if value is None:
            continue
        if not math.isfinite(value) or not low <= value <= high:
            raise InvalidInput(f"{name}_score", Why.OUT_OF_RANGE(low=f"{low:g}", high=f"{high:g}"))
    set_ = [(n, v) for n, v in policy.thresholds() if v is not None]
    for (lower_name, lower), (higher_name, higher) in zip(set_, set_[1:], strict=False):
        if lower >= higher:
            raise InvalidInput(f"{higher_name}_score", Why.SCORE_NOT_ABOVE(other=f"{lower_name}_score",
                                                                             value=f"{higher:g}", limit=f"{lower:g}"))
    longest = bounds.longest_quarantine_days if bounds else 365
    if not 1 <= policy.quarantine_days <= longest:
        raise InvalidInput("quarantine_days", Why.OUT_OF_RANGE(value=policy.quarantine_days, low=1, high=longest))
    if bounds and not bounds.may_disable_greylisting and not policy.greylisting:
        raise InvalidInput("greylisting", Why.NOT_ALLOWED_BY_OPERATOR())
    return policy


class ListKind(enum.Enum):
    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True)
class SenderRule:
    """An allow or block entry of a domain (owner = the domain) or of one user (owner = the
    address): `pattern` is an address (a@example.com) or a domain (example.com), a domain
    matching its subdomains too."""

    owner: str
    kind: ListKind
    pattern: str


def rule_matches(pattern: str, sender: str) -> bool:
    sender = sender.lower()
    if "@" in pattern:
        return sender == pattern
    domain = sender.rpartition("@")[2]
    return bool(domain) and (domain == pattern or domain.endswith("." + pattern))


def listed(senders: Iterable[str], rules: Iterable[SenderRule]) -> ListKind | None:
    """BLOCK if any rule blocks any of `senders` (a block at the domain or the user's level
    wins over an allow at either), ALLOW if one allows one, else None."""
    senders = [s for s in senders if s]
    found: ListKind | None = None
    for rule in rules:
        if any(rule_matches(rule.pattern, s) for s in senders):
            if rule.kind is ListKind.BLOCK:
                return ListKind.BLOCK
            found = ListKind.ALLOW
    return found


@dataclass(frozen=True)
class PolicyKey:
    """What must be the same for every recipient of one transaction."""

    policy: SpamPolicy
    allowed: bool  # the sender is on the recipient's (or its domain's) allow list


class Verdict(enum.Enum):
    DELIVER = "deliver"
    JUNK = "junk"  # delivered with X-Spam: Yes
    QUARANTINE = "quarantine"
    REJECT = "reject"  # 550 5.7.1
    VIRUS = "virus"  # 554 5.7.1
    DMARC_REJECT = "dmarc_reject"  # 550 5.7.1
    GREYLIST = "greylist"  # 451 4.7.1
    TEMPFAIL = "tempfail"  # 451 4.7.1 (rspamd's soft reject, or rspamd unreachable)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    detail: str = ""  # the virus's name, rspamd's message


def decide(scan: Scan, key: PolicyKey, *, sender_authenticated: bool) -> Decision:
    """The outcome for one message. A virus and a failed DMARC p=reject are refused for
    everyone; an allow-list entry counts only for a sender whose domain rspamd found
    authenticated (SPF, DKIM or DMARC pass), so a forged allowed sender gets no pass."""
    virus = scan.virus
    if virus is not None:
        return Decision(Verdict.VIRUS, virus)
    if scan.dmarc_reject:
        return Decision(Verdict.DMARC_REJECT)
    if key.allowed and sender_authenticated:
        return Decision(Verdict.DELIVER)
    policy = key.policy
    if scan.greylisted:
        if policy.greylisting:
            return Decision(Verdict.GREYLIST, scan.message)
    elif scan.action == "soft reject":
        return Decision(Verdict.TEMPFAIL, scan.message)
    # rspamd's own reject (e.g. GTUBE, with no score) is as bad as the domain's policy goes
    score = math.inf if scan.action == "reject" else scan.score
    if policy.reject is not None and score >= policy.reject:
        return Decision(Verdict.REJECT, scan.message)
    if policy.quarantine is not None and score >= policy.quarantine:
        return Decision(Verdict.QUARANTINE)
    if policy.junk is not None and score >= policy.junk:
        return Decision(Verdict.JUNK)
    return Decision(Verdict.DELIVER)
