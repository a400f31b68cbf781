"""Deciding what each valid row does, given what the directory holds and the rows before it.

Pure: the service looks up the addresses of a batch of rows (`Holder`s) and the actor's
hosted domains, and the planner decides row by row, in file order:
- the domain must be one the actor manages (else "not hosted here", whether it exists
  or not: a domain admin learns nothing about other domains);
- an address may appear once in the file (later rows are duplicates) and may not be
  held by another entry (an alias, or another account's alias);
- an existing account is updated with the cells given (unchanged if they match);
- the domain's limits are checked on counters that include the rows planned before,
  so the rows that would overflow a limit are refused and the rest fit;
- a new account's plain password must meet its domain's password policy (given by the
  service: `password_policy`), with the row's address and names; a stored hash from an
  older system cannot be checked and passes, and a blank cell is generated to meet it at
  apply time. (An existing account's password is not changed by an import.)
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mailgothai.core.addresses import split_address
from mailgothai.core.csvimport.rows import ParsedRow, PasswordKind, RowResult
from mailgothai.core.limits import check_account_fits, check_quota_change
from mailgothai.core.models import Account, Domain, Status
from mailgothai.core.password_policy import PasswordPolicy, Person, problems
from mailgothai.core.reasons import Reason, Term, Why
from mailgothai.errors import LimitExceeded


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Holder:
    """An entry that holds an address: an account (its own address or one of its aliases) or an alias."""

    address: str
    kind: str  # "account", "account alias" or "alias"
    owner: str  # the holding entry's own address
    account: Account | None = None  # the account, when the address is an account's own


@dataclass(frozen=True)
class PlannedRow:
    row: int
    action: Action
    account: Account  # create: the new account; update: after; unchanged: as it is
    password: PasswordKind
    before: Account | None = None  # update: as it was when planned
    changes: dict[str, object] = field(default_factory=dict)  # update: the cells given

    @property
    def email(self) -> str:
        return self.account.email

    @property
    def domain(self) -> str:
        return self.account.domain


def not_hosted(domain: str) -> Reason:
    return Why.DOMAIN_UNHOSTED(domain=domain)


def given_changes(parsed: ParsedRow) -> dict[str, object]:
    """The Account fields a row sets on an existing account (blank cells keep the value)."""
    values = {"given_name": parsed.given_name, "surname": parsed.surname, "display_name": parsed.display_name,
              "quota": parsed.quota, "status": parsed.status, "aliases": parsed.aliases,
              "forwards": parsed.forwards}
    return {k: v for k, v in values.items() if v is not None}


def apply_changes(account: Account, changes: Mapping[str, object]) -> Account:
    return dataclasses.replace(account, **changes)  # type: ignore[arg-type]


class Planner:
    """Row-by-row decisions for one file. `domains`: the hosted domains the actor manages."""

    def __init__(self, domains: Mapping[str, Domain],
                 password_policy: Callable[[str], PasswordPolicy] | None = None) -> None:
        self.domains = dict(domains)
        self._password_policy = password_policy  # a domain's policy; None: the form only (rows.py)
        self._usage = {name: (d.account_count, d.quota_allocated) for name, d in self.domains.items()}
        self._emails: dict[str, int] = {}  # address of a row -> first row with it (accepted or not)
        self._planned: dict[str, int] = {}  # address of an accepted row -> its row
        self._alias_claims: dict[str, int] = {}  # alias address -> row that will hold it

    def addresses_to_look_up(self, parsed: ParsedRow) -> tuple[str, ...]:
        return (parsed.email, *(parsed.aliases or ()))

    def plan(self, parsed: ParsedRow, holders: Mapping[str, Holder]) -> PlannedRow | RowResult:
        row, email = parsed.row, parsed.email

        def bad(column: str, why: Reason) -> RowResult:
            return RowResult(row, False, column, why, email)

        first = self._emails.setdefault(email, row)
        if first != row:
            return bad("email", Why.ROW_DUPLICATE(row=first))
        if email in self._alias_claims:
            return bad("email", Why.ROW_ALIAS_CLAIMED(address=email, row=self._alias_claims[email]))
        domain = self.domains.get(parsed.domain)
        if domain is None:
            return bad("email", not_hosted(parsed.domain))
        holder = holders.get(email)
        if holder is not None and holder.account is None:
            return bad("email", Why.ROW_ADDRESS_TAKEN(address=email, holder=Term(holder.kind), owner=holder.owner))
        existing = holder.account if holder is not None else None
        problem = self._check_aliases(parsed, holders, existing)
        if problem is not None:
            return bad("aliases", problem)
        if existing is None and parsed.plain_password is not None and self._password_policy is not None:
            person = Person(email, parsed.given_name or "", parsed.surname or "", parsed.display_name or "")
            weak = problems(parsed.plain_password, self._password_policy(domain.name), person)
            if weak:
                return bad("password", weak[0])
        try:
            planned = self._create(parsed, domain) if existing is None else self._update(parsed, domain, existing)
        except LimitExceeded as exc:
            return bad("quota" if exc.field == "quota" else "email", exc.why)
        for alias in parsed.aliases or ():
            self._alias_claims.setdefault(alias, row)
        self._planned[email] = row
        return planned

    def _check_aliases(self, parsed: ParsedRow, holders: Mapping[str, Holder],
                       existing: Account | None) -> Reason | None:
        keep = existing.aliases if existing is not None else ()
        for alias in parsed.aliases or ():
            alias_domain = split_address(alias)[1]
            if alias_domain not in self.domains:
                return Why.DOMAIN_NOT_HOSTED(address=alias, domain=alias_domain)
            if alias in self._planned:
                return Why.ALIAS_IS_ROW_ADDRESS(address=alias, row=self._planned[alias])
            if self._alias_claims.get(alias, parsed.row) != parsed.row:
                return Why.ALIAS_IN_OTHER_ROW(address=alias, row=self._alias_claims[alias])
            holder = holders.get(alias)
            if holder is not None and holder.owner != parsed.email and alias not in keep:
                return Why.ROW_ADDRESS_TAKEN(address=alias, holder=Term(holder.kind), owner=holder.owner)
        return None

    def _domain_now(self, domain: Domain) -> Domain:
        count, allocated = self._usage[domain.name]
        return dataclasses.replace(domain, account_count=count, quota_allocated=allocated)

    def _create(self, parsed: ParsedRow, domain: Domain) -> PlannedRow:
        account = Account(
            email=parsed.email, domain=domain.name,
            quota=domain.limits.default_quota if parsed.quota is None else parsed.quota,
            status=parsed.status or Status.ACTIVE, given_name=parsed.given_name or "",
            surname=parsed.surname or "", display_name=parsed.display_name or "",
            aliases=parsed.aliases or (), forwards=parsed.forwards or (),
        )
        check_account_fits(self._domain_now(domain), account.quota)
        count, allocated = self._usage[domain.name]
        self._usage[domain.name] = (count + 1, allocated + account.quota)
        return PlannedRow(parsed.row, Action.CREATE, account, parsed.password)

    def _update(self, parsed: ParsedRow, domain: Domain, existing: Account) -> PlannedRow:
        changes = given_changes(parsed)
        if all(getattr(existing, name) == value for name, value in changes.items()):  # no copy to compare
            return PlannedRow(parsed.row, Action.UNCHANGED, existing, parsed.password, existing, changes)
        after = apply_changes(existing, changes)
        if after.quota != existing.quota:
            check_quota_change(self._domain_now(domain), existing.quota, after.quota)
            count, allocated = self._usage[domain.name]
            self._usage[domain.name] = (count, allocated - existing.quota + after.quota)
        return PlannedRow(parsed.row, Action.UPDATE, after, parsed.password, existing, changes)
