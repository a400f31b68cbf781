"""An account's out-of-office reply (issue 17): set, shown and turned off by the user in
the web's self-service, by a domain admin for an account of their domains (a leaver's,
with a forward), or by an operator (CLI, web, API).

The reply is a Sieve script of its own in the account's mail home (core/vacation.py
writes it, mailstore/vacation.py stores it apart from the user's own scripts): setting it
never touches a script the user keeps with a ManageSieve client or the web's filters, nor
which of them is active. Replies leave through the relay as the account's mail (DKIM,
hourly limit: stack/sieve_sendmail.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mailgothai.core.models import Account
from mailgothai.core.thai_time import today_in_thailand
from mailgothai.core.vacation import Vacation, check_vacation, read_script, render_script
from mailgothai.mailstore.vacation import SCRIPT
from mailgothai.services.one_account import OneAccountService, configured
from mailgothai.services.ports import SieveScripts


@dataclass(frozen=True)
class VacationState:
    email: str
    vacation: Vacation | None  # None: off
    today: date

    @property
    def replying(self) -> bool:
        """Replies go out today."""
        return self.vacation is not None and self.vacation.in_effect(self.today)

    def as_data(self) -> dict[str, object]:
        return {"email": self.email, "enabled": self.vacation is not None, "replying_today": self.replying,
                **(self.vacation.as_data() if self.vacation else {})}


class VacationService(OneAccountService):
    """The out-of-office reply of one account at a time, for `actor`."""

    @property
    def _scripts(self) -> SieveScripts:
        return configured(self.b.vacation_scripts)

    def _read(self, email: str) -> Vacation | None:
        text = self._scripts.get(email, SCRIPT)
        return read_script(text) if text is not None else None

    def show(self, email: str) -> VacationState:
        account = self._account(email)
        return VacationState(account.email, self._read(account.email), today_in_thailand())

    def set(self, email: str, *, subject: object, message: object, start: object = None, end: object = None,
            days: object = None) -> VacationState:
        """Check everything, then write the reply; nothing is stored on an error."""
        account = self._account(email)
        today = today_in_thailand()
        vacation = check_vacation(subject, message, start, end, days,
                                  addresses=(account.email, *account.aliases), today=today)
        before = self._read(account.email)
        self._scripts.put(account.email, SCRIPT, render_script(vacation), field="message")
        self._audit(account, "account.vacation.set", before, vacation)
        return VacationState(account.email, vacation, today)

    def off(self, email: str) -> bool:
        """Turn the reply off; False if none was set."""
        account = self._account(email)
        before = self._read(account.email)
        if before is None and self._scripts.get(account.email, SCRIPT) is None:
            return False
        self._scripts.delete(account.email, SCRIPT)
        self._audit(account, "account.vacation.off", before, None)
        return True

    def _audit(self, account: Account, action: str, before: Vacation | None, after: Vacation | None) -> None:
        self.b.audit.record(actor=self.actor.login, origin=self.actor.origin, action=action, object_type="account",
                            object_id=account.email, domain=account.domain,
                            before=before.as_data() if before else None, after=after.as_data() if after else None)
