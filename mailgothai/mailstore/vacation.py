"""Where an account's out-of-office script lives: in its mail home, in a Sieve storage of
its own (`~/mailgothai-vacation`), not in `~/sieve`, the storage ManageSieve clients and the
web's filters use. So no client lists, changes or deactivates it, and writing it never
touches the user's own scripts or which of them is active. Dovecot runs it at delivery
after the operator's scripts and before the user's own (`sieve_before2` in dovecot.conf).

It is written with `doveadm sieve put` (mailstore/sieve.py), pointed at that storage with
`-o`: Pigeonhole compiles the script first and stores nothing that does not compile, and
the file belongs to the mail user like the rest of the home.
"""

from __future__ import annotations

import subprocess

from mailgothai.mailstore.sieve import SieveScripts

HOME_DIR = "mailgothai-vacation"  # in the account's home
HOME_ACTIVE = ".mailgothai-vacation.active"
STORAGE = f"~/{HOME_DIR}"
SCRIPT = "vacation"
# Dovecot's sieve_before2: the script's file in that storage (nothing there: nothing runs)
LOCATION = f"file:{STORAGE}/{SCRIPT}.sieve"
_OVERRIDE = f"plugin/sieve=file:{STORAGE};active=~/{HOME_ACTIVE}"


class VacationScripts(SieveScripts):
    """`doveadm sieve` on the out-of-office storage; the script's name is `SCRIPT`."""

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return super()._run(["-o", _OVERRIDE, *args], stdin)
