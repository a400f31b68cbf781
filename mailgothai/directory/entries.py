"""Entries as the directory layer reads them (`Entry`) and as it writes new ones
(`NewEntry`). A new entry's values are made in one place, `NewEntry.values()`, whatever
carries it: an add (gateway.py), a transaction's adds (batch.py, encoded by wire.py) or
LDIF for slapadd (ldif.py). The repositories build the entries of their objects with it
(`accounts.account_entry`, `aliases.alias_entry`, `domains.domain_entry`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Attrs = dict[str, list[bytes]]


@dataclass(frozen=True)
class Entry:
    """An entry read from the directory: its DN and raw values by lower-cased attribute name."""

    dn: str
    attrs: Attrs = field(repr=False)

    def first(self, name: str, default: str = "") -> str:
        values = self.attrs.get(name.lower())
        return values[0].decode("utf-8") if values else default

    def all(self, name: str) -> tuple[str, ...]:
        return tuple(v.decode("utf-8") for v in self.attrs.get(name.lower(), []))

    def integer(self, name: str, default: int = 0) -> int:
        text = self.first(name)
        return int(text) if text else default


def from_ldap3(item: Mapping[str, object]) -> Entry:
    """An entry of ldap3's response (its raw attributes)."""
    raw = item.get("raw_attributes") or {}
    assert isinstance(raw, Mapping)
    return Entry(str(item["dn"]), {str(k).lower(): list(v) for k, v in raw.items()})


def encode_values(values: Mapping[str, object]) -> dict[str, list[str]]:
    """Attribute values as lists of strings; None, "" and empty sequences are left out."""
    out: dict[str, list[str]] = {}
    for name, value in values.items():
        if value is None or value == "" or value == () or value == []:
            continue
        seq = value if isinstance(value, (list, tuple)) else [value]
        out[name] = [str(v) for v in seq]
    return out


@dataclass(frozen=True)
class NewEntry:
    """An entry to add: its DN, object classes and attributes (values as Python values:
    None, "" and empty sequences mean no value)."""

    dn: str
    object_classes: tuple[str, ...]
    attributes: Mapping[str, object]

    def values(self) -> dict[str, list[str]]:
        """Every attribute as text, objectClass first: what goes on the wire or into LDIF."""
        return {"objectClass": list(self.object_classes), **encode_values(self.attributes)}


def new_entry(dn: str, object_classes: Sequence[str], attributes: Mapping[str, object]) -> NewEntry:
    return NewEntry(dn, tuple(object_classes), dict(attributes))


def unit_entry(dn: str) -> NewEntry:
    """An organizationalUnit (ou=users, ou=aliases of a domain; ou=retained), named by its RDN."""
    return new_entry(dn, ("organizationalUnit",), {"ou": dn.partition(",")[0].partition("=")[2]})
