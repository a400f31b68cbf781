"""An in-memory stand-in for a user's Sieve scripts (the SieveScripts port): names, texts
and the active one. It does not compile a script (Pigeonhole does, tested against the real
Dovecot in tests/integration/test_filters.py); a script holding `BROKEN` stands for one
that does not compile."""

from __future__ import annotations

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.mailstore.sieve import SieveScript
from mailgothai.services import ports

BROKEN = "@@does-not-compile@@"


class FakeSieveScripts:
    def __init__(self) -> None:
        self.scripts: dict[str, dict[str, str]] = {}
        self.active_of: dict[str, str] = {}

    def list(self, user: str) -> list[SieveScript]:
        return [SieveScript(name, self.active_of.get(user) == name) for name in sorted(self.scripts.get(user, {}))]

    def active(self, user: str) -> str | None:
        return self.active_of.get(user)

    def get(self, user: str, name: str) -> str | None:
        return self.scripts.get(user, {}).get(name)

    def put(self, user: str, name: str, text: str, field: str = "script") -> None:
        if BROKEN in text:
            raise InvalidInput(field, Why.SIEVE_DOES_NOT_COMPILE(detail="line 1: error"))
        self.scripts.setdefault(user, {})[name] = text

    def activate(self, user: str, name: str) -> None:
        if name not in self.scripts.get(user, {}):
            raise NotFound("Sieve script", name)
        self.active_of[user] = name

    def deactivate(self, user: str) -> None:
        self.active_of.pop(user, None)

    def delete(self, user: str, name: str) -> None:
        if self.active_of.get(user) == name or name not in self.scripts.get(user, {}):
            raise NotFound("Sieve script", name)
        del self.scripts[user][name]


def _checked_against_the_port(fake: FakeSieveScripts) -> ports.SieveScripts:
    return fake  # mypy -p tests.fakes (scripts/check.sh) holds the fake to the port
