"""Export accounts in the import format: streamed a page at a time (constant memory),
never a password, formula-looking cells guarded so that export → import changes nothing."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from queue import Full, Queue
from typing import TYPE_CHECKING, TextIO, TypeVar

from mailgothai.core.csvimport import ACCOUNT_COLUMNS
from mailgothai.core.csvimport.cells import guard
from mailgothai.core.csvimport.columns import EXPORT_ONLY_COLUMNS
from mailgothai.core.last_login import LastLogin
from mailgothai.core.models import Account
from mailgothai.core.quota import format_size
from mailgothai.services.base import Service

if TYPE_CHECKING:
    from mailgothai.services.last_login import LastLoginService

ENCODINGS = ("utf-8", "utf-8-sig", "cp874")
PAGE = 500
T = TypeVar("T")


def account_cells(account: Account, last: LastLogin | None = None) -> list[str]:
    """The import format's cells, then the last login's (time in UTC, protocol, source;
    three empty cells: never logged in)."""
    values = {
        "email": account.email, "given_name": account.given_name, "surname": account.surname,
        "display_name": account.display_name, "password": "", "quota": format_size(account.quota),
        "status": account.status.value, "aliases": ";".join(account.aliases),
        "forward": ";".join(account.forwards),
    }
    login = ([last.at.isoformat(timespec="seconds"), last.protocol, last.source] if last is not None
             else ["", "", ""])
    return [guard(values[c]) for c in ACCOUNT_COLUMNS] + [guard(v) for v in login]


@dataclass(frozen=True)
class ExportSummary:
    domains: int
    accounts: int


class ExportService(Service):
    def domains(self, domain: str | None = None, *, domains: Sequence[str] | None = None) -> list[str]:
        """The domains an export of `domain`, of `domains`, or of everything the actor manages
        (neither given) covers; checked now, so a refusal comes before any output."""
        names = [domain] if domain is not None else domains
        if names is not None:
            for name in names:
                self.actor.require_domain(name.lower())
            return [self.b.domains.get(name.lower()).name for name in names]
        return [d.name for d in self.b.domains.iter_all() if self.actor.may_manage(d.name)]

    def export(self, out: TextIO, domain: str | None = None, *, domains: Sequence[str] | None = None) -> ExportSummary:
        """Write one domain, the given domains, or every domain the actor manages to `out` as CSV."""
        names = self.domains(domain, domains=domains)
        accounts = 0
        for chunk, count in self._chunks(names):
            out.write(chunk)
            accounts += count
        return ExportSummary(len(names), accounts)

    def stream(self, names: Sequence[str]) -> Iterator[str]:
        """The CSV of `names` (from domains()) as text chunks of one page each, for a
        streamed HTTP response: memory stays at a few pages whatever the size."""
        for chunk, _ in self._chunks(names):
            yield chunk

    def _chunks(self, names: Sequence[str]) -> Iterator[tuple[str, int]]:
        """The header, then one chunk of CSV text per page of accounts. The directory is read
        one page ahead by a second thread, so slapd serves the next page while this one is
        written."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")

        def take() -> str:
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            return text

        writer.writerow((*ACCOUNT_COLUMNS, *EXPORT_ONLY_COLUMNS))
        yield take(), 0

        def with_logins(page: list[Account]) -> tuple[list[Account], dict[str, LastLogin]]:
            return page, (self._logins.of_many(page) if self._logins is not None else {})

        def pages() -> Iterator[tuple[list[Account], dict[str, LastLogin]]]:
            for name in names:
                page: list[Account] = []
                for account in self.b.accounts.iter_domain(name):
                    page.append(account)
                    if len(page) == PAGE:
                        yield with_logins(page)
                        page = []
                if page:
                    yield with_logins(page)

        for page, logins in read_ahead(pages()):
            writer.writerows(account_cells(a, logins.get(a.email)) for a in page)
            yield take(), len(page)

    @cached_property
    def _logins(self) -> LastLoginService | None:
        """The last logins of each page (one directory search and one SQL query a page)."""
        if self.b.logins is None:
            return None
        from mailgothai.services.last_login import LastLoginService

        return LastLoginService(self.b, self.actor)


def read_ahead(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """Iterate `items` in a thread of its own, up to `depth` items ahead of the consumer."""
    done = object()
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(item, timeout=0.2)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(done)
        except BaseException as exc:  # handed to the consumer
            queue.put(exc)

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)
