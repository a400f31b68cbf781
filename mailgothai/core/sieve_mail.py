"""Mail that Dovecot's Sieve sends for a user (out-of-office replies, redirects): the
relay's rules for it. It reaches the relay's submission logged in as the Sieve sender
acting for the user (stack/sieve_sendmail.py) and is then the user's mail: counted in the
user's hourly limit and DKIM-signed for the user's domain. Two things differ from mail the
user writes: the envelope sender may be <> (a vacation reply, RFC 5230 section 5.1; a
redirected bounce), and a redirect's From: is not checked, since it carries the original
sender's From: unchanged (RFC 5228 section 4.2), which passed the relay's rules when the
message came in. Every other message Sieve makes (a vacation reply, whose `:from` the
user's script sets; a mailto notification; a reject) is held to the From:/Sender: rule of
the user's own submission (`policy.decide_sender_fields`): else a script's
`vacation :from "Director <director@…>"` would send DKIM-signed mail as a colleague.
System mail (reset links, recovery confirmations: core/password_reset; expiry warnings:
services/password_lifecycle), which the web and the CLI submit with the same login, comes
from the account's domain's no-reply@ or postmaster@ (`senders`)."""

from __future__ import annotations

from mailgothai.core import policy as p
from mailgothai.core.addresses import normalize_address
from mailgothai.errors import InvalidInput

# The SMTP AUTH name of Dovecot's Sieve mail at the relay (stack/sieve_sendmail.py); the
# authorization identity names the user it acts for.
SIEVE_LOGIN = "mailgothai-sieve"


def decide_sender(address: str, *, owned: frozenset[str], user_domain_active: bool) -> p.Decision:
    """MAIL FROM of Sieve mail for a user who owns `owned`: <> or one of them."""
    if not owned or (address and address not in owned):
        return p.Decision(p.reply(p.R.NOT_YOUR_ADDRESS, address=address or "<>"))
    if not user_domain_active:
        return p.Decision(p.reply(p.R.SENDER_DOMAIN_SUSPENDED))
    return p.Decision(p.reply(p.R.OK_SENDER), address)


# The two fields Pigeonhole's redirect puts first on the copy it sends (having removed any
# the message had): `X-Sieve` and `X-Sieve-Redirected-From` naming the user. Every other
# message Sieve makes starts with `X-Sieve` then `Message-ID` (vacation, notify, reject),
# and a script can put no field before those (a mailto URI's fields come after them;
# editheader is not enabled, and Pigeonhole forbids it to add X-Sieve-Redirected-From).
REDIRECT_MARKS = (b"x-sieve", b"x-sieve-redirected-from")


def is_redirect(headers: tuple[tuple[bytes, bytes], ...], owned: frozenset[str]) -> bool:
    """Whether the message (`core.dkim.parse(...).headers`) is a copy of one the user
    received that Pigeonhole's `redirect` sends on: its first two fields are Pigeonhole's
    marks, the second naming one of the user's addresses (`owned`)."""
    if len(headers) < 2 or (headers[0][0], headers[1][0]) != REDIRECT_MARKS:
        return False
    value = headers[1][1].split(b":", 1)[1].strip()
    if value.startswith(b"<") and value.endswith(b">"):
        value = value[1:-1]
    try:
        return normalize_address(value.decode("ascii"), "X-Sieve-Redirected-From") in owned
    except (UnicodeDecodeError, InvalidInput):
        return False


# The From: of system mail, at the account's domain (core/password_reset, services/password_lifecycle).
SYSTEM_SENDERS = ("no-reply", "postmaster")


def senders(headers: tuple[tuple[bytes, bytes], ...], owned: frozenset[str], user: str) -> frozenset[str]:
    """The addresses mail submitted with the Sieve login for `user` may have in From:/Sender:
    (when it is not a redirect): the user's own (`owned`); and, for a message Pigeonhole did
    not make (its every message, vacation reply, notification, reject or redirect, starts
    with X-Sieve, and a script cannot change that), i.e. system mail, also the domain's
    system senders."""
    if headers and headers[0][0] == b"x-sieve":
        return owned
    domain = p.domain_of(user)
    return owned | frozenset(f"{local}@{domain}" for local in SYSTEM_SENDERS)
