"""One account row: every cell checked with the same core rules as the CLI and the web.

Context-free checks only (syntax, lengths, control characters, sizes, status, password
form); what needs the directory (hosted domains, conflicts, limits) is planning.py's.
A blank cell (or a column the file does not have) means "not given": a new account
gets the default, an existing one keeps its value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mailgothai.core.addresses import normalize_address, parse_address_list, split_address
from mailgothai.core.csvimport.cells import first_control, printable, unguard
from mailgothai.core.csvimport.columns import Header
from mailgothai.core.csvimport.reading import Record
from mailgothai.core.models import Status
from mailgothai.core.passwords import check_password_policy, has_scheme_prefix, validate_stored_hash
from mailgothai.core.quota import parse_size
from mailgothai.core.reasons import Reason, Why
from mailgothai.core.text import check_text
from mailgothai.errors import InvalidInput

NAME_COLUMNS = ("given_name", "surname", "display_name")


@dataclass(frozen=True)
class RowResult:
    """The verdict on one row: ok, or the column and the reason it was refused."""

    row: int
    ok: bool
    column: str = ""
    why: Reason | None = None
    email: str = ""  # as written in the file (normalised when ok)

    @property
    def reason(self) -> str:
        return str(self.why) if self.why is not None else ""


class PasswordKind(enum.StrEnum):
    GENERATE = "generate"  # blank cell: generate one, hand it out once in the result file
    PLAIN = "plain"  # hash with argon2id
    HASH = "hash"  # a stored hash from an older system, kept as given


@dataclass(frozen=True)
class ParsedRow:
    row: int
    email: str
    domain: str
    password: PasswordKind
    given_name: str | None = None  # None: not given
    surname: str | None = None
    display_name: str | None = None
    quota: int | None = None
    status: Status | None = None
    aliases: tuple[str, ...] | None = None
    forwards: tuple[str, ...] | None = None
    # PLAIN: the password as written, for the domain's policy (planning.py); never shown
    plain_password: str | None = field(default=None, repr=False, compare=False)


def password_kind(cell: str, column: str = "password") -> PasswordKind:
    """Classify and check a password cell (InvalidInput when it is not acceptable)."""
    if cell == "":
        return PasswordKind.GENERATE
    if has_scheme_prefix(cell):
        validate_stored_hash(cell, column)
        return PasswordKind.HASH
    check_password_policy(cell, column)
    return PasswordKind.PLAIN


def stored_or_plain(cell: str) -> tuple[PasswordKind, str]:
    """At apply time: the kind and the value to use (the stored form for a hash)."""
    kind = password_kind(cell)
    return kind, validate_stored_hash(cell) if kind is PasswordKind.HASH else cell


def _given(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value


def parse_account_row(record: Record, header: Header) -> ParsedRow | RowResult:
    cells = record.cells
    # as written, but never a control character raw (the report shows it; PostgreSQL cannot store NUL)
    email_cell = printable(cells[header.index["email"]]) if header.index["email"] < len(cells) else ""
    if len(cells) != header.width and any(c.strip() for c in cells[header.width:]) or len(cells) < header.width:
        return RowResult(record.row, False, "", Why.ROW_WIDTH(cells=len(cells), width=header.width), email_cell)
    control = first_control(cells)
    if control is not None:  # in any column, before any rule sees (and perhaps quotes) the cell
        position, char = control
        return RowResult(record.row, False, header.name_of(position),
                         Why.TEXT_CONTROL_CHARACTER(code=f"{ord(char):04X}"), email_cell)

    def cell(column: str) -> str | None:
        position = header.index.get(column)
        if position is None:
            return None
        value = cells[position]
        return value if column == "password" else unguard(value)

    try:
        email = normalize_address(cell("email") or "", "email")
        values: dict[str, object] = {}
        for column in NAME_COLUMNS:
            text = _given(cell(column))
            values[column] = None if text is None else check_text(text, column)
        quota = _given(cell("quota"))
        status = _given(cell("status"))
        aliases = _given(cell("aliases"))
        forward = _given(cell("forward"))
        password = cell("password") or ""
        kind = password_kind(password)
        parsed = ParsedRow(
            row=record.row, email=email, domain=split_address(email)[1],
            password=kind, plain_password=password if kind is PasswordKind.PLAIN else None,
            quota=None if quota is None else parse_size(quota, "quota"),
            status=None if status is None else Status.parse(status, "status"),
            aliases=None if aliases is None else parse_address_list(aliases, "aliases"),
            forwards=None if forward is None else parse_address_list(forward, "forward"),
            **values,  # type: ignore[arg-type]
        )
    except InvalidInput as exc:
        return RowResult(record.row, False, exc.field, exc.why, email_cell)
    if parsed.aliases and email in parsed.aliases:
        return RowResult(record.row, False, "aliases", Why.OWN_ADDRESS(address=email), email_cell)
    if parsed.forwards and email in parsed.forwards:
        return RowResult(record.row, False, "forward", Why.FORWARD_TO_ITSELF(), email_cell)
    return parsed
