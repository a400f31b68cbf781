"""Inside the relay the imports point down too: server.py (the serve loop) puts together
what wiring.py builds, smtp.py's protocol class and logs.py's log; the parts they put
together (handler, context, delivery, ...) import none of the four."""

from __future__ import annotations

from tests.unit.test_layers import ROOT, imports_of

ASSEMBLY = {"server": 3, "wiring": 2, "smtp": 2, "logs": 2}  # higher imports lower, never the other way


def test_no_relay_module_imports_what_assembles_it() -> None:
    wrong = []
    for path in sorted((ROOT / "relay").glob("*.py")):
        mine = ASSEMBLY.get(path.stem, 1)
        for name in imports_of(path):
            parts = name.split(".")
            if parts[:2] != ["mailgothai", "relay"] or len(parts) < 3 or parts[2] == path.stem:
                continue
            theirs = ASSEMBLY.get(parts[2], 1)
            if theirs > mine or theirs == mine == 2:  # upward, or between two assemblers
                wrong.append(f"relay/{path.name} imports {name}")
    assert wrong == []


class _NoKeys:
    """The key table of a relay that hosts no signing domain."""

    def published(self, name: str) -> bytes | None:
        return None


def test_a_message_dkimpy_cannot_parse_is_judged_unsigned_not_refused() -> None:
    """dkimpy raised IndexError on a message whose first header line starts with a blank
    (only its own DKIMException was caught): the MX answered 500 Error: (IndexError). Any
    failure to read the signature is permerror; the message is judged as unsigned."""
    from typing import cast

    from mailgothai.dkim.table import KeyTable
    from mailgothai.relay.inbound import InboundChecker

    checker = InboundChecker(cast(KeyTable, _NoKeys()), "off", 1.0)
    signature = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=abc; b=def\r\n"
    for message in (b" X-Folded: x\r\n" + signature + b"From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n",
                    b" " + signature + b"From: a@example.com\r\n\r\nbody\r\n"):
        verdict = checker.check(message, "192.0.2.1", "mx.example.com", "a@example.com", spf=False)
        assert [(r.domain, r.result) for r in verdict.dkim] == [("example.com", "permerror")]
        assert verdict.passed_domains() == frozenset()
