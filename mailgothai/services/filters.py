"""A mail user's filter rules (issue 17): read and saved by the user in the web's
self-service, by a domain admin for an account of their domains, or by an operator.

The web never destroys a script it did not write:
- its rules live in a script of their own, `mailgothai` (core/sieve_filters.SCRIPT_NAME),
  beside any the user keeps with a ManageSieve client; the web writes no other script and
  never deletes one;
- it makes its script the active one only when no script is active or its own already is;
  if the user activated a script of their own, the rules are saved but stay inactive (the
  page says so) unless the person saving asks, explicitly, to use them instead (the
  user's script is then kept, only no longer active);
- a `mailgothai` script the web did not write as it stands (edited by hand in a client: its
  checksum no longer matches) is refused with a clear error, never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailgothai.core.reasons import Why
from mailgothai.core.sieve_filters import SCRIPT_NAME, Action, Rule, check_rules, compile_rules, read_script
from mailgothai.errors import InvalidInput
from mailgothai.services.one_account import OneAccountService, configured
from mailgothai.services.ports import SieveScripts


@dataclass(frozen=True)
class FilterState:
    email: str
    rules: tuple[Rule, ...]  # the web's rules, as its script holds them (none if edited by hand)
    stored: bool  # the web's script exists
    edited_by_hand: bool  # ...but was changed since the web wrote it: the web will not overwrite it
    active: str | None  # the name of the user's active script, if any
    scripts: tuple[str, ...]  # every script the user has

    @property
    def in_effect(self) -> bool:
        """The web's rules are what runs at delivery."""
        return self.active == SCRIPT_NAME and not self.edited_by_hand

    @property
    def other_active(self) -> str | None:
        """A script of the user's own that is active instead of the web's."""
        return self.active if self.active not in (None, SCRIPT_NAME) else None

    def as_data(self) -> dict[str, object]:
        return {"email": self.email, "rules": [r.as_data() for r in self.rules], "stored": self.stored,
                "edited_by_hand": self.edited_by_hand, "in_effect": self.in_effect, "active_script": self.active,
                "scripts": list(self.scripts)}


class Filters(OneAccountService):
    """The filters of one account; `actor` is who acts (for a mail user in the web's
    self-service: `Filters.of_user`)."""

    @property
    def _scripts(self) -> SieveScripts:
        return configured(self.b.sieve_scripts)

    def _state(self, email: str) -> FilterState:
        scripts = self._scripts.list(email)
        text = self._scripts.get(email, SCRIPT_NAME) if any(s.name == SCRIPT_NAME for s in scripts) else None
        back = read_script(text) if text is not None else None
        return FilterState(email=email, rules=back.rules if back else (), stored=text is not None,
                           edited_by_hand=back is not None and not back.intact,
                           active=next((s.name for s in scripts if s.active), None),
                           scripts=tuple(s.name for s in scripts))

    def show(self, email: str) -> FilterState:
        return self._state(self._account(email).email)

    def save(self, email: str, rules_data: object, *, use_instead_of_own: bool = False,
             current_password: str = "") -> FilterState:
        """Check the rules, write them as the web's script and make it active if that
        destroys nothing (see the module's text). Nothing is stored on an error. A mail
        user's own save that forwards to an address no rule forwarded to before needs the
        current password: a stolen session alone must not set up a quiet copy of the mail
        to someone else (an admin of the domain acts under its own rights)."""
        account = self._account(email)
        rules = check_rules(rules_data, own_address=account.email)
        before = self._state(account.email)
        if before.edited_by_hand:
            raise InvalidInput("rules", Why.FILTERS_EDITED_BY_HAND(name=repr(SCRIPT_NAME)))
        if self._self_email is not None and _new_forwards(before.rules, rules):
            from mailgothai.services.second_factor import check_current_password  # the SQL store on first use

            if not check_current_password(self.b, account.email, current_password):
                raise InvalidInput("current_password", Why.FORWARD_NEEDS_PASSWORD())
        self._scripts.put(account.email, SCRIPT_NAME, compile_rules(rules), field="rules")
        if before.active is None or (before.other_active and use_instead_of_own):
            self._scripts.activate(account.email, SCRIPT_NAME)
        after = self._state(account.email)
        self.b.audit.record(actor=self.actor.login, origin=self.actor.origin, action="account.filters",
                            object_type="account", object_id=account.email, domain=account.domain,
                            before={"rules": [r.as_data() for r in before.rules], "active_script": before.active},
                            after={"rules": [r.as_data() for r in after.rules], "active_script": after.active})
        return after


def _new_forwards(before: Sequence[Rule], after: Sequence[Rule]) -> set[str]:
    """The addresses `after` forwards to that `before` did not."""
    def targets(rules: Sequence[Rule]) -> set[str]:
        return {r.address.lower() for r in rules if r.action is Action.FORWARD}

    return targets(after) - targets(before)
