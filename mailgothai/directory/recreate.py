"""An entry of a backup added back with its own entryUUID (a mailbox's identity).

slapd assigns entryUUID and no client may write it (NO-USER-MODIFICATION), except under
the Relax Rules control (1.3.6.1.4.1.4203.666.5.12) by an identity with `manage` access:
only the rootdn here. Checked on slapd 2.5.13: the rootdn's add with the control keeps the
given entryUUID; the application's DN is refused; without the control even the rootdn is
refused ("no user modification allowed"). slapd does NOT refuse a second entry with the
same entryUUID, so the caller must make sure no entry holds it (stack/restore_domain.py
looks for every id in the whole tree first).
"""

from __future__ import annotations

from collections.abc import Sequence

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.directory import batch
from mailgothai.directory.entries import Attrs, Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.results import map_error
from mailgothai.errors import DirectoryUnreachable, NoAnswer

RELAX_RULES_OID = "1.3.6.1.4.1.4203.666.5.12"

# What slapd writes itself (and slapcat shows); entryUUID is kept, the rest made afresh.
SERVER_WRITTEN = frozenset({
    "entrycsn", "createtimestamp", "modifytimestamp", "creatorsname", "modifiersname",
    "structuralobjectclass", "entrydn", "subschemasubentry", "hassubordinates", "contextcsn",
})


def entry_values(entry: Entry, drop: frozenset[str] = frozenset()) -> Attrs:
    """The entry's values for an add: what slapd writes itself left out, and `drop`
    (lower-cased names)."""
    return {name: list(values) for name, values in entry.attrs.items()
            if name not in SERVER_WRITTEN and name not in drop and values}


def add_keeping_identity(manager: Gateway, dn: str, values: Attrs) -> None:
    """Add dn with its values, entryUUID among them, as the rootdn under Relax Rules."""
    classes = [v.decode("utf-8") for v in values.get("objectclass", [])]
    rest = {name: vals for name, vals in values.items() if name != "objectclass"}

    def operation(conn: ldap3.Connection) -> None:
        try:
            conn.add(dn, classes, rest, controls=[(RELAX_RULES_OID, True, None)])
        except lx.LDAPException as exc:
            raise map_error(exc, dn) from exc
    manager.call(operation)


def add_all_keeping_identity(manager: Gateway, entries: Sequence[tuple[str, Attrs]]) -> None:
    """Several such adds in one LDAP transaction (directory/batch.py): all or none, one
    commit (one wait for the disk) for all of them. Raises TransactionRefused naming the
    refused one, DirectoryUnreachable when the outcome is unknown."""
    requests = [(dn, {name: [v.decode("utf-8") for v in vals] for name, vals in values.items()})
                for dn, values in entries]

    def operation(conn: ldap3.Connection) -> None:
        try:
            batch.add_all(conn, requests, [(RELAX_RULES_OID, True, None)])
        except NoAnswer as exc:
            raise DirectoryUnreachable(str(exc)) from exc
    manager.call(operation)
