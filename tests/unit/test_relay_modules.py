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
