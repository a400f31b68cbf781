"""CSV bulk import, the pure part: reading the file, mapping its header, checking each
row with the core's rules and planning what it does. No I/O beyond the stream it is given."""

from mailgothai.core.csvimport.cells import guard, unguard
from mailgothai.core.csvimport.charsets import OFFERED_ENCODINGS, encoding_named
from mailgothai.core.csvimport.columns import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
    DOMAIN_COLUMNS,
    DOMAIN_SYNONYMS,
    Header,
    map_header,
)
from mailgothai.core.csvimport.planning import Action, Holder, PlannedRow, Planner, apply_changes, not_hosted
from mailgothai.core.csvimport.reading import FileFormat, Record, detect_format, read_records
from mailgothai.core.csvimport.rows import (
    ParsedRow,
    PasswordKind,
    RowResult,
    parse_account_row,
    password_kind,
    stored_or_plain,
)

__all__ = [
    "ACCOUNT_COLUMNS", "ACCOUNT_SYNONYMS", "DOMAIN_COLUMNS", "DOMAIN_SYNONYMS", "OFFERED_ENCODINGS", "Action",
    "FileFormat", "Header",
    "Holder", "ParsedRow", "PasswordKind", "PlannedRow", "Planner", "Record", "RowResult", "apply_changes",
    "detect_format", "encoding_named", "guard", "map_header", "not_hosted", "parse_account_row", "password_kind",
    "read_records",
    "stored_or_plain", "unguard",
]
