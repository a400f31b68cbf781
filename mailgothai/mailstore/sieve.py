"""A user's Sieve scripts through `doveadm sieve` (Pigeonhole's doveadm plugin): the same
scripts in the mail home (~/sieve) that ManageSieve clients list and edit.

Pigeonhole compiles a script before it stores it: a script that does not compile is
refused with the compiler's message, and nothing is stored — here an InvalidInput naming
the field (`script`, or the caller's) with that message. Other failures are
MailStoreError, as for doveadm.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, MailStoreError, NotFound

# doveadm's exit codes (sysexits): the user or the script is not there; a script that
# does not compile (EX_DATAERR).
# where a user's own scripts live in its home (dovecot.conf.in: sieve = file:~/sieve;active=~/.dovecot.sieve)
HOME_DIR = "sieve"
HOME_ACTIVE = ".dovecot.sieve"
_EX_DATAERR = 65
_EX_NOUSER = 67
_EX_NOTFOUND = 68
_PREFIX = re.compile(r"^doveadm\([^)]*\)(<[^>]*>)*(<[^>]*>)?: (Error|Fatal): ", re.MULTILINE)


@dataclass(frozen=True)
class SieveScript:
    name: str
    active: bool


class SieveScripts:
    """`doveadm -c CONFIG sieve ...` for one user at a time."""

    def __init__(self, config: Path) -> None:
        self._config = config

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [shutil.which("doveadm", path="/usr/bin:/usr/sbin") or "doveadm", "-c", str(self._config), *args]
        try:
            return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False, encoding="utf-8")
        except OSError as exc:
            raise MailStoreError(f"doveadm {' '.join(args[:2])}: {exc}") from exc

    @staticmethod
    def _message(done: subprocess.CompletedProcess[str]) -> str:
        return _PREFIX.sub("", (done.stderr or done.stdout).strip()).strip()

    def _check(self, done: subprocess.CompletedProcess[str], what: str, user: str, name: str = "") -> str:
        if done.returncode == 0:
            return done.stdout
        if done.returncode == _EX_NOUSER:
            raise NotFound("account", user)
        if done.returncode == _EX_NOTFOUND and name:
            raise NotFound("Sieve script", name)
        raise MailStoreError(f"doveadm sieve {what} ({user}): {self._message(done)}")

    @staticmethod
    def _rows(out: str, what: str) -> list[dict[str, str]]:
        """doveadm's JSON formatter: a list of objects (the script's text exactly as stored)."""
        try:
            rows = json.loads(out) if out.strip() else []
        except ValueError as exc:
            raise MailStoreError(f"doveadm sieve {what}: unreadable output {out[:200]!r}") from exc
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise MailStoreError(f"doveadm sieve {what}: unexpected output {out[:200]!r}")
        return rows

    def list(self, user: str) -> list[SieveScript]:
        out = self._check(self._run(["-f", "json", "sieve", "list", "-u", user]), "list", user)
        return [SieveScript(str(row.get("script", "")), str(row.get("active", "")).upper() == "ACTIVE")
                for row in self._rows(out, "list") if row.get("script")]

    def active(self, user: str) -> str | None:
        """The name of the user's active script, if one is."""
        return next((s.name for s in self.list(user) if s.active), None)

    def get(self, user: str, name: str) -> str | None:
        """The script's text, or None if the user has no script of that name."""
        done = self._run(["-f", "json", "sieve", "get", "-u", user, name])
        if done.returncode == _EX_NOTFOUND:
            return None
        rows = self._rows(self._check(done, "get", user, name), "get")
        if len(rows) != 1 or not isinstance(rows[0].get("sieve script"), str):
            raise MailStoreError(f"doveadm sieve get: unexpected output {done.stdout[:200]!r}")
        return rows[0]["sieve script"]

    def put(self, user: str, name: str, text: str, field: str = "script") -> None:
        """Store (replace) the script; InvalidInput(field) if it does not compile."""
        done = self._run(["sieve", "put", "-u", user, name], stdin=text)
        if done.returncode == _EX_DATAERR:
            raise InvalidInput(field, Why.SIEVE_DOES_NOT_COMPILE(detail=self._message(done)))
        self._check(done, "put", user, name)

    def activate(self, user: str, name: str) -> None:
        self._check(self._run(["sieve", "activate", "-u", user, name]), "activate", user, name)

    def deactivate(self, user: str) -> None:
        self._check(self._run(["sieve", "deactivate", "-u", user]), "deactivate", user)

    def delete(self, user: str, name: str) -> None:
        """Remove the script; it must not be the active one (deactivate first)."""
        self._check(self._run(["sieve", "delete", "-u", user, name]), "delete", user, name)
