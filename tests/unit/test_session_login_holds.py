"""What a logged-in SMTP session is held to at each MAIL FROM (relay/handler.py): the
account's entry as the relay's lookup reads it — the same cached reads as the
sender-ownership check, so no directory read while they are fresh — must still be the
version the login was checked against, active, in an active domain, with no password
change required."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import cast

from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.relay.context import RelayContext
from mailgothai.relay.handler import RelayHandler
from mailgothai.relay.lookup import RelayDirectory, cached_or_thread

USER = "somchai@a.go.th"


class Directory:
    """slapd as the relay's lookup sees it: one domain, one account; counts reads."""

    def __init__(self) -> None:
        self.account = {"objectclass": [b"inetOrgPerson", b"mgtAccount"], "mail": [USER.encode()],
                        "mgtstatus": [b"active"], "entrycsn": [b"csn-1"]}
        self.domain = {"objectclass": [b"mgtDomain"], "domainname": [b"a.go.th"], "mgtstatus": [b"active"]}
        self.reads: list[str] = []

    def read(self, dn: str, attributes: Sequence[str] = ("*",)) -> Entry | None:
        self.reads.append(dn)
        return Entry(dn, dict(self.domain)) if dn.startswith("domainName=a.go.th,") else None

    def search_any(self, base: str, terms: Sequence[tuple[str, str]], attributes: Sequence[str]) -> list[Entry]:
        self.reads.append(f"any {terms[0][1]}")
        return [Entry(f"mail={USER}", dict(self.account))] if terms[0][1] == USER else []

    def search(self, base: str, search_filter: str, attributes: Sequence[str] = ("*",),
               **kwargs: object) -> list[Entry]:
        self.reads.append(search_filter)
        return []


def handler_over(directory: RelayDirectory) -> RelayHandler:
    return RelayHandler(cast(RelayContext, SimpleNamespace(directory=directory)), "submission")


def test_each_mail_from_is_checked_from_the_lookup_cache_without_a_directory_read() -> None:
    slapd = Directory()
    lookup = RelayDirectory(cast(Gateway, slapd), Layout("dc=test"), ttl=60)
    handler = handler_over(lookup)

    async def mail_from() -> tuple[bool, frozenset[str], object]:
        return await cached_or_thread(handler._mail_facts, USER, USER, "csn-1")

    holds, owned, domain = asyncio.run(mail_from())
    assert holds and owned == frozenset({USER}) and domain is not None
    first = len(slapd.reads)
    assert first > 0
    for _ in range(3):
        assert asyncio.run(mail_from())[0]
    assert len(slapd.reads) == first  # every later MAIL FROM answered from the cache

    slapd.account["entrycsn"] = [b"csn-2"]  # a new password (or any change) ...
    assert asyncio.run(mail_from())[0]  # ... unseen while the entry read before it is cached
    lookup.clear()  # read again (its time to live over, or SIGUSR1 from the service)
    assert asyncio.run(mail_from()) == (False, frozenset(), None)


def test_a_session_holds_only_while_a_new_login_would_be_let_in() -> None:
    slapd = Directory()
    lookup = RelayDirectory(cast(Gateway, slapd), Layout("dc=test"), ttl=0)
    handler = handler_over(lookup)
    assert handler._login_holds(USER, "csn-1")
    assert not handler._login_holds(USER, "csn-0")  # the entry changed since the login
    assert not handler._login_holds(USER, "\0unknown")  # a login whose version was not read
    slapd.account["mgtmustchangepassword"] = [b"TRUE"]
    assert not handler._login_holds(USER, "csn-1")
    del slapd.account["mgtmustchangepassword"]
    slapd.account["mgtstatus"] = [b"disabled"]
    assert not handler._login_holds(USER, "csn-1")
    slapd.account["mgtstatus"] = [b"active"]
    slapd.domain["mgtstatus"] = [b"disabled"]
    assert not handler._login_holds(USER, "csn-1")
    slapd.domain["mgtstatus"] = [b"active"]
    assert handler._login_holds(USER, "csn-1")
    assert not handler._login_holds("other@a.go.th", "csn-1")  # gone (deleted, renamed)
