"""Export accounts in the import format: streamed a page at a time (constant memory),
never a password, formula-looking cells guarded so that export → import changes nothing."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Iterable, Sequence, TextIO

from mailgothai.core.csvimport import ACCOUNT_COLUMNS
from mailgothai.core.csvimport.cells import guard
from mailgothai.core.models import Account
from mailgothai.core.quota import format_size
from mailgothai.services.base import Service

ENCODINGS = ("utf-8", "utf-8-sig", "cp874")


def account_cells(account: Account) -> list[str]:
    values = {
        "email": account.email, "given_name": account.given_name, "surname": account.surname,
        "display_name": account.display_name, "password": "", "quota": format_size(account.quota),
        "status": account.status.value, "aliases": ";".join(account.aliases),
        "forward": ";".join(account.forwards),
    }
    return [guard(values[c]) for c in ACCOUNT_COLUMNS]


@dataclass(frozen=True)
class ExportSummary:
    domains: int
    accounts: int


class ExportService(Service):
    def _domains(self, names: Sequence[str] | None) -> Iterable[str]:
        if names is not None:
            for name in names:
                self.actor.require_domain(name.lower())
            return [self.b.domains.get(name.lower()).name for name in names]
        return [d.name for d in self.b.domains.iter_all() if self.actor.may_manage(d.name)]

    def export(self, out: TextIO, domain: str | None = None, *, domains: Sequence[str] | None = None) -> ExportSummary:
        """Write one domain, the given domains, or every domain the actor manages to `out` as CSV."""
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(ACCOUNT_COLUMNS)
        count = accounts = 0
        for name in self._domains([domain] if domain is not None else domains):
            count += 1
            for account in self.b.accounts.iter_domain(name):
                writer.writerow(account_cells(account))
                accounts += 1
        return ExportSummary(count, accounts)
