"""Bring the cn=config of a directory made by an older version of the project up to this
one, online, at every start: the project's schema gains what was added to it (new
attribute types, new optional attributes of its classes) and the database's access rules
become this version's. slapd is asked over its ldapi socket as the user running it,
whom cn=config's first rule lets manage it (deploy/slapd/config.ldif.in).

A directory made by this version needs nothing, and nothing is written. When the schema
gains the mark of hashes from older systems, the accounts that already hold such a hash
are marked (mark_legacy_hashes), once.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.core.passwords import is_legacy_hash
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.passwords import LEGACY_MARK
from mailgothai.directory.pool import discard
from mailgothai.errors import StackError
from mailgothai.paths import SCHEMA_DIR
from mailgothai.settings import Settings
from mailgothai.stack import slapd

DATABASE_DN = "olcDatabase={1}mdb,cn=config"
MARK_OID = "MgtAttr:16"  # mgtPasswordUpgrade in ldap_schema/mailgothai.schema
SCHEMA_BASE = "cn=schema,cn=config"
_ORDER = re.compile(r"^\{\d+\}")


def ldif_values(text: str, dn: str) -> dict[str, list[str]]:
    """The attribute values of one entry of an LDIF text (continuation lines unfolded,
    comments dropped); every value with its white space collapsed."""
    entries = re.split(r"\n\s*\n", re.sub(r"\n[ \t]", "", "\n".join(
        line for line in text.splitlines() if not line.startswith("#"))))
    for entry in entries:
        lines = [line for line in entry.strip().splitlines() if line]
        if lines and lines[0] == f"dn: {dn}":
            values: dict[str, list[str]] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                values.setdefault(name, []).append(" ".join(value.split()))
            return values
    raise StackError(f"no entry {dn} in the configuration template")


def _plain(value: str) -> str:
    """A cn=config value without its {n} position, white space collapsed."""
    return " ".join(_ORDER.sub("", value).split())


def _identity(definition: str) -> str:
    """The OID (or macro) a schema definition begins with: what names it."""
    return definition.strip("( ").split()[0]


def schema_changes(current: dict[str, list[str]],
                   wanted: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(operation, attribute, value) that turn the current schema entry into the wanted
    one: new definitions added, changed ones replaced; attribute types first, so a
    class may name a new one. Nothing is ever removed."""
    changes: list[tuple[str, str, str]] = []
    for attribute in ("olcAttributeTypes", "olcObjectClasses"):
        have = {_identity(_plain(v)): v for v in current.get(attribute, [])}
        for definition in wanted.get(attribute, []):
            old = have.get(_identity(definition))
            if old is not None and _plain(old) == _plain(definition):
                continue
            if old is None:
                changes.append((ldap3.MODIFY_ADD, attribute, definition))
                continue
            # Replaced in its place ({n} kept): later positions, and so later deletes, stay valid.
            position = _ORDER.match(old)
            changes.append((ldap3.MODIFY_DELETE, attribute, old))
            changes.append((ldap3.MODIFY_ADD, attribute, (position[0] if position else "") + definition))
    return changes


def _connect(settings: Settings, node: int) -> ldap3.Connection:
    socket = urllib.parse.quote(str(slapd.paths_for(settings, node).socket), safe="")
    server = ldap3.Server(f"ldapi://{socket}", get_info=ldap3.NONE)
    return ldap3.Connection(server, authentication=ldap3.SASL, sasl_mechanism=ldap3.EXTERNAL,
                            sasl_credentials="", auto_bind=True, raise_exceptions=True)


def _read(conn: ldap3.Connection, dn: str, attributes: list[str]) -> dict[str, list[str]]:
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attributes)
    if not conn.response:
        raise StackError(f"slapd's configuration has no entry {dn}")
    raw = conn.response[0]["raw_attributes"]
    return {name: [v.decode("utf-8") for v in raw.get(name, [])] for name in attributes}


@dataclass(frozen=True)
class ConfigUpdate:
    """What update_config changed: nothing, for a directory made by this version."""

    schema: tuple[str, ...] = ()  # OIDs (or macros) of the schema definitions added or changed
    access: bool = False  # the access rules were replaced
    indexes: tuple[str, ...] = ()  # olcDbIndex values added

    def describe(self) -> list[str]:
        return ([f"schema definitions added or changed: {', '.join(self.schema)}"] if self.schema else []) + (
            ["access rules replaced with this version's"] if self.access else []) + (
            [f"indexes added: {', '.join(self.indexes)}"] if self.indexes else [])


def update_config(settings: Settings, node: int = 1) -> ConfigUpdate:
    """Update node's running slapd; returns what changed."""
    paths = slapd.paths_for(settings, node)
    wanted_schema = ldif_values((SCHEMA_DIR / "mailgothai.ldif").read_text(encoding="utf-8"),
                                f"cn=mailgothai,{SCHEMA_BASE}")
    config = slapd.config_ldif(settings, paths, "{ARGON2}unused", slapd.local_replication(settings, node))
    wanted_access = ldif_values(config, DATABASE_DN)["olcAccess"]
    try:
        conn = _connect(settings, node)
    except lx.LDAPException as exc:
        raise StackError(f"cannot reach slapd's ldapi socket to update its configuration: {exc}") from exc
    try:
        conn.search(SCHEMA_BASE, "(objectClass=olcSchemaConfig)", ldap3.LEVEL, attributes=["cn"])
        ours = [item["dn"] for item in conn.response or () if item["dn"].endswith(f"}}mailgothai,{SCHEMA_BASE}")]
        if len(ours) != 1:
            raise StackError(f"slapd at {paths.root} has no MailGoThai schema in cn=config")
        current = _read(conn, ours[0], ["olcAttributeTypes", "olcObjectClasses"])
        changes = schema_changes(current, wanted_schema)
        if changes:
            modification: dict[str, list[tuple[str, list[str]]]] = {}
            # One modify: ldap3 groups by attribute, which keeps types before classes.
            for operation, attribute, value in changes:
                modification.setdefault(attribute, []).append((operation, [value]))
            conn.modify(ours[0], modification)
        current_access = _read(conn, DATABASE_DN, ["olcAccess", "olcAddContentAcl"])
        access = current_access["olcAccess"]
        replace_access = [_plain(v) for v in access] != [_plain(v) for v in wanted_access]
        if replace_access:
            conn.modify(DATABASE_DN, {"olcAccess": [(ldap3.MODIFY_REPLACE, wanted_access)]})
        # Adds checked attribute by attribute (a directory made before this was set).
        wanted_add_acl = ldif_values(config, DATABASE_DN).get("olcAddContentAcl", [])
        if wanted_add_acl and current_access.get("olcAddContentAcl") != wanted_add_acl:
            conn.modify(DATABASE_DN, {"olcAddContentAcl": [(ldap3.MODIFY_REPLACE, wanted_add_acl)]})
            replace_access = True
        # Indexes this version added (e.g. mgtSharedAccess, issue 17): slapd builds them online.
        wanted_index = ldif_values(config, DATABASE_DN).get("olcDbIndex", [])
        have_index = {_plain(v) for v in _read(conn, DATABASE_DN, ["olcDbIndex"])["olcDbIndex"]}
        new_index = [v for v in wanted_index if _plain(v) not in have_index]
        if new_index:
            conn.modify(DATABASE_DN, {"olcDbIndex": [(ldap3.MODIFY_ADD, new_index)]})
    except lx.LDAPException as exc:
        raise StackError(f"updating the configuration of slapd at {paths.root} failed: {exc}") from exc
    finally:
        discard(conn)
    return ConfigUpdate(tuple(_identity(_plain(value)) for operation, _, value in changes
                              if operation == ldap3.MODIFY_ADD), replace_access, tuple(new_index))


def mark_legacy_hashes(settings: Settings) -> int:
    """Mark every account whose hash is from an older system and carries no mark (they
    were imported before the mark existed), so its next login upgrades it. Bound as the
    rootdn, the one identity that reads hashes; returns how many were marked."""
    layout = Layout(settings.ldap_base)
    gateway = Gateway(settings.ldap_uri_list[:1], settings.ldap_manager_dn, settings.ldap_manager_password,
                      timeout=settings.ldap_timeout)
    marked = 0
    try:
        for entry in gateway.iter_paged(layout.domains, f"(&(objectClass=mgtAccount)(!({LEGACY_MARK}=*)))",
                                        ["userPassword"]):
            if is_legacy_hash(entry.first("userPassword")):
                gateway.replace(entry.dn, {LEGACY_MARK: "TRUE"})
                marked += 1
    finally:
        gateway.close()
    return marked
