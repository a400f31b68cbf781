"""Columns by header name, in any order; unknown ones reported, not silently dropped."""

from __future__ import annotations

from dataclasses import dataclass

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

ACCOUNT_COLUMNS = ("email", "given_name", "surname", "display_name", "password", "quota", "status",
                   "aliases", "forward")
# Columns the account export adds after the import format's, for people to read (issue 17:
# last login); an import reads past them, so export → import still changes nothing.
EXPORT_ONLY_COLUMNS = ("last_login", "last_login_protocol", "last_login_source")
DOMAIN_COLUMNS = ("domain", "description", "max_accounts", "quota", "default_quota", "max_message_size",
                  "hourly_send_limit")
ACCOUNT_SYNONYMS = {
    "e_mail": "email", "mail": "email", "email_address": "email", "first_name": "given_name",
    "firstname": "given_name", "givenname": "given_name", "last_name": "surname", "lastname": "surname",
    "family_name": "surname", "sn": "surname", "displayname": "display_name", "alias": "aliases",
    "forwards": "forward", "forward_to": "forward",
}
DOMAIN_SYNONYMS = {"name": "domain", "quota_pool": "quota", "pool": "quota"}


def _key(cell: str) -> str:
    return cell.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class Header:
    index: dict[str, int]  # known column -> position
    unknown: tuple[str, ...]  # header cells that are no known column, as written
    width: int

    names: tuple[str, ...] = ()  # the header's cells as written

    def has(self, column: str) -> bool:
        return column in self.index

    def name_of(self, position: int) -> str:
        """The column at `position`: its known name, else its header cell, else its number (1-based)."""
        for name, at in self.index.items():
            if at == position:
                return name
        written = self.names[position].strip() if position < len(self.names) else ""
        return written or str(position + 1)


def map_header(cells: list[str], known: tuple[str, ...], required: tuple[str, ...],
               synonyms: dict[str, str] | None = None) -> Header:
    index: dict[str, int] = {}
    unknown: list[str] = []
    for position, cell in enumerate(cells):
        key = _key(cell)
        if key in EXPORT_ONLY_COLUMNS:
            continue
        name = key if key in known else (synonyms or {}).get(key)
        if name is None or name not in known:
            if cell.strip():
                unknown.append(cell.strip())
            continue
        if name in index:
            raise InvalidInput("file", Why.COLUMN_TWICE(column=repr(name)))
        index[name] = position
    missing = [c for c in required if c not in index]
    if missing:
        raise InvalidInput("file", Why.COLUMN_MISSING(missing=", ".join(missing), columns=", ".join(known)))
    return Header(index, tuple(unknown), len(cells), tuple(cells))
