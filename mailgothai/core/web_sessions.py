"""The kinds of web session a mail user has: what the web starts (web/context.py) and
what the services end when the account's password changes or the account goes
(store/second_factor.py). No I/O."""

from __future__ import annotations

USER = "user"  # a logged-in mail user (self-service)
USER_PENDING = "user-2fa"  # its password was right; the second factor is still due
USER_KINDS = (USER, USER_PENDING)
