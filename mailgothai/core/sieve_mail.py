"""Mail that Dovecot's Sieve sends for a user (out-of-office replies, redirects): the
relay's rules for it. It reaches the relay's submission logged in as the Sieve sender
acting for the user (stack/sieve_sendmail.py) and is then the user's mail: counted in the
user's hourly limit and DKIM-signed for the user's domain. Two things differ from mail the
user writes: the envelope sender may be <> (a vacation reply, RFC 5230 section 5.1; a
redirected bounce), and the From: field is not checked, since a redirect carries the
original sender's From: unchanged (RFC 5228 section 4.2)."""

from __future__ import annotations

from mailgothai.core import policy as p

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
