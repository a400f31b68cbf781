"""What a mail user may do in the web: see its own quota and usage, change its own
password (knowing the current one). Nothing else, and nobody else's."""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.core.models import Account
from mailgothai.core.passwords import hash_password
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.services.backends import Backends
from mailgothai.services.domain_routing import login_names
from mailgothai.services.password_policy import require_strong
from mailgothai.services.second_factor import check_current_password
from mailgothai.services.sessions import token_hash
from mailgothai.services.usage import Reading, UsageRefresher


@dataclass(frozen=True)
class MyMailbox:
    account: Account
    usage: Reading | None


class SelfService:
    def __init__(self, backends: Backends, email: str, refresher: UsageRefresher) -> None:
        self.b = backends
        self.email = email  # the logged-in user: the only account this service touches
        self.refresher = refresher

    def mailbox(self) -> MyMailbox:
        account = self.b.accounts.get(self.email)
        try:
            self.refresher.read_now([account.email])
        except Exception:  # noqa: BLE001 - Dovecot down: show the last reading
            pass
        return MyMailbox(account, self.refresher.snapshots.readings([account.email]).get(account.email))

    def change_password(self, current: str, new: str, repeat: str, keep_session: str = "") -> None:
        """The user's own change; every other web session of the account ends (also one
        waiting for its second factor), but `keep_session` (the token of the changer's)."""
        if not check_current_password(self.b, self.email, current):  # never an app password (issue 20)
            raise InvalidInput("current_password", Why.NOT_CURRENT_PASSWORD())
        if new != repeat:
            raise InvalidInput("new_password_repeat", Why.PASSWORDS_DIFFER())
        if new == current:
            raise InvalidInput("new_password", Why.SAME_PASSWORD())
        account = self.b.accounts.get(self.email)
        require_strong(self.b, new, account, "new_password")
        self.b.accounts.set_password_hash(self.email, hash_password(new, self.b.argon2))
        self.b.audit.record(actor=self.email, origin="web-self", action="account.password", object_type="account",
                            object_id=self.email, domain=account.domain)
        self.b.doveadm.flush_auth_cache(login_names(self.b, [self.email]))
        # Its IMAP, ManageSieve and SMTP sessions end too: one who changes a password after a
        # suspected break-in wants the others out; the user's own mail client logs in again,
        # with the new password.
        self.b.end_sessions([self.email])
        if self.b.account_secrets is not None:
            if account.mailbox_id:  # a reset link asked for before (by whoever) no longer sets it
                self.b.account_secrets.void_reset_links(account.mailbox_id)
            self.b.account_secrets.end_web_sessions(self.email, token_hash(keep_session) if keep_session else "")
