"""Whose admins see a quarantined recipient (relay/protection.py `scopes`): the hosted
domain its RCPT TO named, or, for an RCPT TO at an alias domain, the domain that one stands
for as the RCPT hook saw it, never an alias domain's name (no admin is given one) nor a
domain the recipient was not sent to. The relay's MX path end to end is
tests/relay/test_quarantine_rspamd.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mailgothai.core.spam import SenderRule, SpamPolicy
from mailgothai.relay.protection import Protection, SpamState, scopes
from mailgothai.relay.rspamd import RspamdClient
from mailgothai.relay.spool import Envelope, Target
from mailgothai.settings import load_settings


class Policies:
    def policy_of(self, domain: str) -> SpamPolicy:
        return SpamPolicy()

    def rules_for(self, domain: str, address: str) -> tuple[SenderRule, ...]:
        return ()

    def rule_owners(self, domain: str) -> frozenset[str]:
        return frozenset()

    def record(self, domain: str, outcome: str, count: int = 1) -> None:
        pass


def accepted(tmp_path: Path, *rcpts: tuple[str, str]) -> SpamState:
    """The RCPT hook's facts for these (hosted domain, lists owner) pairs, as handler.py calls it."""
    settings = load_settings(data_dir=tmp_path, environ={}).replace(relay_lookup_cache_ttl=60)
    protection = Protection(settings, RspamdClient("127.0.0.1", 1, 5), Policies(), None)
    state = SpamState()

    async def run() -> None:
        for domain, owner in rcpts:
            assert await protection.at_rcpt(state, "win@lottery.example", domain, owner) is None
        await protection.aclose()

    asyncio.run(run())
    return state


def envelope(*targets: Target) -> Envelope:
    return Envelope("0" * 22, "win@lottery.example", targets, 0.0)


def test_an_alias_domains_address_is_its_domains(tmp_path: Path) -> None:
    # malee@new.go.th (an alias domain of d.go.th) reaches the one mailbox malee@d.go.th
    state = accepted(tmp_path, ("d.go.th", "malee@d.go.th"))
    assert scopes(envelope(Target("malee@d.go.th", "malee@new.go.th", True)), state) == {"malee@d.go.th": "d.go.th"}


def test_a_hosted_domains_address_keeps_its_domain(tmp_path: Path) -> None:
    # staff@d.go.th, an alias whose member is in e.go.th: d.go.th's, as before
    state = accepted(tmp_path, ("d.go.th", "staff@d.go.th"))
    assert scopes(envelope(Target("somchai@e.go.th", "staff@d.go.th", True)), state) == {}


def test_several_domains_in_one_transaction(tmp_path: Path) -> None:
    # team@new.go.th (alias domain of d.go.th): an alias of two mailboxes, one of them in
    # e.go.th, and a forward outside; malee@new2.go.th (alias domain of e.go.th): one mailbox;
    # somchai@e.go.th itself
    state = accepted(tmp_path, ("d.go.th", "team@new.go.th"), ("e.go.th", "malee@e.go.th"),
                     ("e.go.th", "somchai@e.go.th"))
    found = scopes(envelope(Target("a@d.go.th", "team@new.go.th", True), Target("b@e.go.th", "team@new.go.th", True),
                            Target("b@gmail.example", "team@new.go.th", False),
                            Target("malee@e.go.th", "malee@new2.go.th", True),
                            Target("somchai@e.go.th", "somchai@e.go.th", True)), state)
    assert found == {"a@d.go.th": "d.go.th", "b@e.go.th": "d.go.th", "b@gmail.example": "d.go.th",
                     "malee@e.go.th": "e.go.th"}


def test_what_cannot_be_told_stays_under_the_name_written(tmp_path: Path) -> None:
    # the bare <postmaster> has no domain and no RCPT hook: never given to the other RCPT's domain
    state = accepted(tmp_path, ("d.go.th", "malee@d.go.th"))
    assert scopes(envelope(Target("postmaster@ops.example", "postmaster", False),
                           Target("malee@d.go.th", "malee@d.go.th", True)), state) == {}
