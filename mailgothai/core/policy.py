"""Relay policy: the decisions of DESIGN.md's "Relay policy", as pure functions, and
the ONE table of SMTP replies they answer with.

Nothing here does I/O: the relay gathers the facts (who is logged in, what the
directory says about an address, the mailbox's room, the hour's count) and these
functions decide. Every refusal is a `Reply` from `REPLIES`, so a code is never
written twice and the tests can name the decision they expect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, split_address
from mailgothai.core.sender_headers import SenderField
from mailgothai.errors import InvalidInput


@dataclass(frozen=True)
class Reply:
    code: int
    status: str  # RFC 3463 enhanced status code
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"

    @property
    def ok(self) -> bool:
        return self.code < 400

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500


class R(enum.Enum):
    """Every decision the relay can announce."""

    OK_SENDER = "ok_sender"
    OK_RECIPIENT = "ok_recipient"
    QUEUED = "queued"
    AUTH_OK = "auth_ok"
    # connection and AUTH
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_COMMANDS = "too_many_commands"
    TOO_MANY_ERRORS = "too_many_errors"
    AUTH_NOT_HERE = "auth_not_here"
    AUTH_NEEDS_TLS = "auth_needs_tls"
    AUTH_FAILED = "auth_failed"
    AUTH_LOCKED = "auth_locked"
    AUTH_MUST_CHANGE = "auth_must_change"
    AUTH_UNAVAILABLE = "auth_unavailable"
    AUTH_BAD_BASE64 = "auth_bad_base64"
    AUTH_BAD_PLAIN = "auth_bad_plain"
    LOGIN_ENDED = "login_ended"  # a logged-in session whose account changed since its AUTH
    # addresses
    BAD_SENDER_SYNTAX = "bad_sender_syntax"
    BAD_RECIPIENT_SYNTAX = "bad_recipient_syntax"
    ROUTING_CHARACTERS = "routing_characters"
    # MAIL FROM
    NOT_YOUR_ADDRESS = "not_your_address"
    SENDER_DOMAIN_SUSPENDED = "sender_domain_suspended"
    MESSAGE_TOO_BIG = "message_too_big"
    # RCPT TO
    RELAY_DENIED = "relay_denied"
    UNKNOWN_USER = "unknown_user"
    MAILBOX_SUSPENDED = "mailbox_suspended"
    DOMAIN_SUSPENDED = "domain_suspended"
    OVER_QUOTA = "over_quota"
    HOURLY_LIMIT = "hourly_limit"
    TOO_MANY_RECIPIENTS = "too_many_recipients"
    # DATA
    SPOOFED_HOSTED_SENDER = "spoofed_hosted_sender"
    SPOOFED_HOSTED_HEADER = "spoofed_hosted_header"
    UNREADABLE_SENDER_HEADER = "unreadable_sender_header"
    HEADER_FROM_NOT_YOURS = "header_from_not_yours"
    HEADER_SHOWS_NOT_YOURS = "header_shows_not_yours"
    NO_VALID_RECIPIENTS = "no_valid_recipients"
    # inbound protection (core/spam.py)
    OTHER_POLICY_NEXT = "other_policy_next"
    SENDER_BLOCKED = "sender_blocked"
    SPAM_REJECTED = "spam_rejected"
    VIRUS_FOUND = "virus_found"
    DMARC_REJECTED = "dmarc_rejected"
    GREYLISTED = "greylisted"
    SCAN_DEFERRED = "scan_deferred"
    # anything the relay cannot answer now
    TEMPORARY_FAILURE = "temporary_failure"


REPLIES: dict[R, Reply] = {
    R.OK_SENDER: Reply(250, "2.1.0", "Sender OK"),
    R.OK_RECIPIENT: Reply(250, "2.1.5", "Recipient OK"),
    R.QUEUED: Reply(250, "2.0.0", "Queued as {queue_id}"),
    R.AUTH_OK: Reply(235, "2.7.0", "Authentication successful"),
    R.TOO_MANY_CONNECTIONS: Reply(421, "4.7.0", "Too many connections from your address, try later"),
    R.TOO_MANY_COMMANDS: Reply(421, "4.7.0", "Too many commands from your address, slow down and try later"),
    R.TOO_MANY_ERRORS: Reply(421, "4.7.0", "Too many refused commands in this session, closing"),
    R.AUTH_NOT_HERE: Reply(503, "5.5.1", "AUTH is offered on the submission ports only"),
    R.AUTH_NEEDS_TLS: Reply(538, "5.7.11", "Encryption required: use STARTTLS first"),
    R.AUTH_FAILED: Reply(535, "5.7.8", "Authentication credentials invalid"),
    R.AUTH_LOCKED: Reply(454, "4.7.0", "Too many failed logins, try again later"),
    # The right password, but it must be changed first (issue 20): the text says where
    # (core/password_lifecycle.change_required_text).
    R.AUTH_MUST_CHANGE: Reply(535, "5.7.8", "{text}"),
    R.AUTH_UNAVAILABLE: Reply(454, "4.7.0", "Temporary authentication failure"),
    R.AUTH_BAD_BASE64: Reply(501, "5.5.2", "Can't decode base64"),
    R.AUTH_BAD_PLAIN: Reply(501, "5.5.2", "Can't split auth value"),
    # At MAIL FROM or DATA of a session that logged in before its account's entry changed
    # (a new password, a revoked app password, a suspension, ...): the session is closed.
    # 421, not 530/535: a temporary failure, so a client keeps the message and sends it
    # again in a new session, where AUTH decides (the owner's client asks for the new
    # password; an intruder's old one is refused there), while a 5xx at MAIL would bounce
    # the owner's message or show it as failed.
    R.LOGIN_ENDED: Reply(421, "4.7.0", "Login no longer valid: the account's password or status changed "
                                       "since this session logged in; closing, log in again"),
    R.BAD_SENDER_SYNTAX: Reply(553, "5.1.7", "Sender address not accepted: {reason}"),
    R.BAD_RECIPIENT_SYNTAX: Reply(553, "5.1.3", "Recipient address not accepted: {reason}"),
    R.ROUTING_CHARACTERS: Reply(553, "5.1.3", "Source routes, '%' and '!' routing are not accepted"),
    R.NOT_YOUR_ADDRESS: Reply(553, "5.7.1", "Sender address is not yours: {address}"),
    R.SENDER_DOMAIN_SUSPENDED: Reply(550, "5.7.1", "Sending domain is suspended"),
    R.MESSAGE_TOO_BIG: Reply(552, "5.3.4", "Message larger than the {limit} bytes allowed"),
    R.RELAY_DENIED: Reply(554, "5.7.1", "Relay access denied: {address}"),
    R.UNKNOWN_USER: Reply(550, "5.1.1", "No such user here: {address}"),
    R.MAILBOX_SUSPENDED: Reply(550, "5.2.1", "Mailbox disabled: {address}"),
    R.DOMAIN_SUSPENDED: Reply(550, "5.2.1", "Domain suspended: {address}"),
    R.OVER_QUOTA: Reply(452, "4.2.2", "Mailbox full, try later: {address}"),
    R.HOURLY_LIMIT: Reply(452, "4.5.3", "Hourly recipient limit of {limit} reached, try later"),
    R.TOO_MANY_RECIPIENTS: Reply(452, "4.5.3", "Too many recipients in one message"),
    R.SPOOFED_HOSTED_SENDER: Reply(550, "5.7.1", "Mail claiming {domain} must be sent by its servers "
                                                 "or DKIM-signed by it"),
    R.SPOOFED_HOSTED_HEADER: Reply(550, "5.7.1", "{header} header claims {domain}: such mail must be "
                                                 "sent through submission or carry a DKIM signature "
                                                 "aligned with it"),
    R.UNREADABLE_SENDER_HEADER: Reply(550, "5.7.1", "{header} header cannot be read ({reason}); "
                                                    "mail whose sender is unclear is not accepted"),
    R.HEADER_FROM_NOT_YOURS: Reply(550, "5.7.1", "{header} header address is not yours: {address}"),
    R.HEADER_SHOWS_NOT_YOURS: Reply(550, "5.7.1", "{header} header shows {domain}, a hosted domain "
                                                  "you may not send as"),
    R.NO_VALID_RECIPIENTS: Reply(503, "5.5.1", "No valid recipients"),
    # a recipient under another domain's (or user's) spam policy: one decision per message
    R.OTHER_POLICY_NEXT: Reply(452, "4.5.3", "Recipient under another policy: send it in a new transaction"),
    R.SENDER_BLOCKED: Reply(550, "5.7.1", "Sender {sender} is blocked by the recipient's policy"),
    R.SPAM_REJECTED: Reply(550, "5.7.1", "Message rejected as spam{detail}"),
    R.VIRUS_FOUND: Reply(554, "5.7.1", "Message refused: it contains a virus ({virus})"),
    R.DMARC_REJECTED: Reply(550, "5.7.1", "Message fails its sender domain's DMARC policy (p=reject)"),
    R.GREYLISTED: Reply(451, "4.7.1", "Greylisted: please try again later"),
    R.SCAN_DEFERRED: Reply(451, "4.7.1", "Message could not be scanned now, try again later"),
    R.TEMPORARY_FAILURE: Reply(451, "4.3.0", "Temporary local problem, try later"),
}


def reply(kind: R, **values: object) -> Reply:
    """The table's reply for `kind`, its placeholders filled in (no CR/LF can get in)."""
    base = REPLIES[kind]
    text = base.text.format(**{k: _one_line(str(v)) for k, v in values.items()}) if values else base.text
    return Reply(base.code, base.status, text)


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:300]


@dataclass(frozen=True)
class Decision:
    """A reply plus, when accepted, the value the relay goes on with."""

    reply: Reply
    address: str = ""  # the normalized address, or "" for the null sender

    @property
    def ok(self) -> bool:
        return self.reply.ok


# ---- connection (step 1) ----------------------------------------------------------
def check_command_rate(within_rate: bool) -> Reply | None:
    """A connection or command from a client address whose token bucket is empty
    (`core/throttle.CommandBuckets`): 421 and the connection is closed."""
    return None if within_rate else reply(R.TOO_MANY_COMMANDS)


def check_session_errors(refused: int, limit: int) -> Reply | None:
    """After `limit` refused commands (any 4xx/5xx reply: unknown users, bad syntax,
    failed logins, ...) in one connection it is closed: address harvesting and
    password guessing need a new connection, which the client's bucket pays for."""
    if limit and refused >= limit:
        return reply(R.TOO_MANY_ERRORS)
    return None


# ---- addresses from the SMTP envelope ---------------------------------------
ROUTING = frozenset("%!")
POSTMASTER = "postmaster"  # RFC 5321 4.5.1: <postmaster> without a domain, any case


def parse_envelope_address(text: str, *, sender: bool) -> Decision:
    """A MAIL FROM or RCPT TO path as the relay will use it, or the refusal.

    Refused: quoted local parts (`"a@b"@c`), `%` and `!` routing, IP literals, bad
    syntax. A source route (`@a,@b:user@c`) has already been reduced to its mailbox
    by the SMTP parser (RFC 5321 4.1.1.3), so routing is always by the final domain.
    """
    bad = R.BAD_SENDER_SYNTAX if sender else R.BAD_RECIPIENT_SYNTAX
    value = text.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    if sender and value == "":
        return Decision(reply(R.OK_SENDER), "")
    if not value:
        return Decision(reply(bad, reason="empty address"))
    if not sender and value.lower() == POSTMASTER:
        return Decision(reply(R.OK_RECIPIENT), POSTMASTER)
    local = value.rpartition("@")[0]
    if any(c in ROUTING for c in local) or ":" in value:
        return Decision(reply(R.ROUTING_CHARACTERS))
    try:
        address = normalize_address(value, "sender" if sender else "recipient")
    except InvalidInput as exc:
        return Decision(reply(bad, reason=exc.reason))
    return Decision(reply(R.OK_SENDER if sender else R.OK_RECIPIENT), address)


def domain_of(address: str) -> str:
    return split_address(address)[1]


# ---- MAIL FROM ----------------------------------------------------------------
def decide_sender(address: str, *, auth_user: str | None, owned: frozenset[str],
                  sender_domain_hosted: bool, sender_domain_active: bool) -> Decision:
    """Step 3. An authenticated user sends only as an address it owns. Unauthenticated
    mail may name a hosted sender here; it must then prove it with the domain's DKIM
    signature at DATA (see `needs_dkim_proof`)."""
    if auth_user is not None:
        if address not in owned:
            return Decision(reply(R.NOT_YOUR_ADDRESS, address=address or "<>"))
        if not sender_domain_active:
            return Decision(reply(R.SENDER_DOMAIN_SUSPENDED))
    return Decision(reply(R.OK_SENDER), address)


def needs_dkim_proof(address: str, *, auth_user: str | None, sender_domain_hosted: bool) -> bool:
    """Unauthenticated mail claiming a hosted sender domain must be signed by it."""
    return auth_user is None and bool(address) and sender_domain_hosted


def check_size(declared: int, limit: int) -> Reply | None:
    """Steps 3 and 5: a message (declared SIZE= or actual) over a domain's maximum."""
    if limit and declared > limit:
        return reply(R.MESSAGE_TOO_BIG, limit=limit)
    return None


# ---- RCPT TO --------------------------------------------------------------------
class Found(enum.Enum):
    """What the directory holds for a recipient address."""

    MAILBOX = "mailbox"  # an account, by its address or one of its aliases
    ALIAS = "alias"  # an alias entry
    NOTHING = "nothing"


@dataclass(frozen=True)
class RecipientFacts:
    address: str
    hosted: bool  # the domain is one of ours
    domain_active: bool = True
    found: Found = Found.NOTHING
    active: bool = True  # the account's or alias's own status
    targets: tuple[str, ...] = ()  # expanded delivery addresses (local and remote)
    over_quota: tuple[str, ...] = ()  # local targets without room for the message


def decide_recipient(facts: RecipientFacts, *, authenticated: bool) -> Decision:
    """Step 4 without the hourly count (see `check_hourly`).

    Unauthenticated mail goes only to existing, active, local recipients: never an
    open relay. Authenticated users may send anywhere.
    """
    a = facts.address
    if not facts.hosted:
        if authenticated:
            return Decision(reply(R.OK_RECIPIENT), a)
        return Decision(reply(R.RELAY_DENIED, address=a))
    if not facts.domain_active:
        return Decision(reply(R.DOMAIN_SUSPENDED, address=a))
    if facts.found is Found.NOTHING:
        return Decision(reply(R.UNKNOWN_USER, address=a))
    if not facts.active:
        return Decision(reply(R.MAILBOX_SUSPENDED, address=a))
    if not facts.targets:
        return Decision(reply(R.UNKNOWN_USER, address=a))
    if facts.over_quota:
        return Decision(reply(R.OVER_QUOTA, address=a))
    return Decision(reply(R.OK_RECIPIENT), a)


def check_hourly(count_after: int | None, limit: int) -> Reply | None:
    """`count_after` is the hour's count once this recipient is added, or None when the
    shared counter refused to go past the limit."""
    if limit and (count_after is None or count_after > limit):
        return reply(R.HOURLY_LIMIT, limit=limit)
    return None


# ---- DATA -------------------------------------------------------------------------
def aligned(domain: str, signers: frozenset[str], hosted: frozenset[str]) -> bool:
    """DMARC's relaxed alignment (RFC 7489 3.1.1) of a claimed `domain` with the domains
    of the valid DKIM signatures, with the organizational domain taken from what is hosted
    here instead of the Public Suffix List: a signature of the domain itself, of a hosted
    parent of it (moph.go.th signs for hr.moph.go.th when moph.go.th is hosted), or of a
    subdomain of a hosted domain (hr.moph.go.th for moph.go.th). A parent that is not
    hosted here (go.th) never aligns, so no registry-level key vouches for an agency."""
    if domain in signers:
        return True
    for signer in signers:
        if domain.endswith("." + signer) and signer in hosted:
            return True
        if signer.endswith("." + domain) and domain in hosted:
            return True
    return False


def decide_unauthenticated_claims(envelope_domain: str | None, fields: tuple[SenderField, ...],
                                  hosted: frozenset[str], signers: frozenset[str]) -> Reply | None:
    """DESIGN's rule for mail without AUTH: it may not claim a hosted domain, in the
    envelope or in any address a reader sees in `From:`/`Sender:` (display names,
    comments and encoded words included), unless a valid DKIM signature aligned with that
    domain is on it. A field that cannot be read is refused: what it claims is unknown.
    `hosted` holds those of the claimed domains that are hosted here."""
    for field in fields:
        if field.problem:
            return reply(R.UNREADABLE_SENDER_HEADER, header=field.header, reason=field.problem)
    if envelope_domain is not None and not aligned(envelope_domain, signers, hosted):
        return reply(R.SPOOFED_HOSTED_SENDER, domain=envelope_domain)
    for field in fields:
        for domain in sorted(field.domains & hosted):
            if not aligned(domain, signers, hosted):
                return reply(R.SPOOFED_HOSTED_HEADER, header=field.header, domain=domain)
    return None


def claimed_domains(fields: tuple[SenderField, ...]) -> frozenset[str]:
    """Every domain the sender fields name or show (to ask the directory which are hosted)."""
    out: frozenset[str] = frozenset()
    for field in fields:
        out |= field.domains
    return out


def decide_sender_fields(fields: tuple[SenderField, ...], owned: frozenset[str],
                         hosted: frozenset[str] = frozenset()) -> Reply | None:
    """Authenticated mail: every address of `From:` and `Sender:` must be one the user
    owns (what the reader sees, and what the domain's DKIM signature vouches for); a
    message needs a From: address; a field that cannot be read is refused. And, as for
    mail without AUTH, what a reader sees counts: a hosted domain shown anywhere in the
    fields (a display name, a comment, an encoded word) must be a domain of one of the
    user's addresses. `hosted` holds those of the fields' `shown_domains` that are hosted
    here (`shown_to_check` says which to ask the directory about)."""
    for field in fields:
        if field.problem:
            return reply(R.UNREADABLE_SENDER_HEADER, header=field.header, reason=field.problem)
        for address in field.addresses:
            if address not in owned:
                return reply(R.HEADER_FROM_NOT_YOURS, header=field.header, address=address)
    if not any(f.addresses for f in fields if f.header == "From:"):
        return reply(R.HEADER_FROM_NOT_YOURS, header="From:", address="(none)")
    mine = owned_domains(owned)
    for field in fields:
        for domain in sorted(field.shown_domains & hosted - mine):
            return reply(R.HEADER_SHOWS_NOT_YOURS, header=field.header, domain=domain)
    return None


def owned_domains(owned: frozenset[str]) -> frozenset[str]:
    """The domains of the addresses a user owns."""
    return frozenset(domain_of(a) for a in owned)


def shown_to_check(fields: tuple[SenderField, ...], owned: frozenset[str]) -> frozenset[str]:
    """The domains shown in the sender fields that are not the user's own: those the
    directory must say are hosted or not (none, for nearly every message)."""
    shown: frozenset[str] = frozenset()
    for field in fields:
        shown |= field.shown_domains
    return shown - owned_domains(owned) if shown else shown


# ---- delivery ------------------------------------------------------------------------
def retry_delay(attempts: int, base: int, maximum: int) -> int:
    """Seconds before the next try after `attempts` failed ones: base, 2·base, 4·base … ≤ maximum."""
    if attempts < 1:
        return 0
    return int(min(maximum, base * (2 ** min(attempts - 1, 30))))


def may_bounce(sender: str, is_bounce: bool, *, authenticated: bool = True, sender_hosted: bool = True) -> bool:
    """Never a bounce for a bounce (null sender) nor for a DSN we made; for mail accepted
    without authentication whose sender's domain did not vouch for it (SPF, DKIM or DMARC:
    `authenticated` covers both) only to a sender hosted here — its MAIL FROM may be forged,
    and a DSN sent out for it would be backscatter."""
    return bool(sender) and not is_bounce and (authenticated or sender_hosted)
