"""`import-domains` (operators): a CSV of domains, row by row through DomainService —
new domains added, changed ones updated, unchanged ones left alone (and not audited)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.csvimport import (
    DOMAIN_COLUMNS,
    DOMAIN_SYNONYMS,
    RowResult,
    detect_format,
    map_header,
    read_records,
)
from mailgothai.core.csvimport.cells import first_control, printable, unguard
from mailgothai.core.csvimport.charsets import encoding_named
from mailgothai.core.reasons import Why
from mailgothai.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from mailgothai.services.base import Service
from mailgothai.services.domains import DomainService, build_limits


@dataclass(frozen=True)
class DomainImportSummary:
    rows: int
    created: int
    updated: int
    unchanged: int
    bad: tuple[RowResult, ...]
    unknown_columns: tuple[str, ...]


class DomainImports(Service):
    def import_domains(self, path: Path, encoding: str | None = None) -> DomainImportSummary:
        """domain,description,max_accounts,quota,default_quota: new domains added, changed ones updated.
        encoding: as for `start_job`."""
        self.actor.require_superadmin()
        codec = encoding_named(encoding) if encoding else None
        domains = DomainService(self.b, self.actor)
        bad: list[RowResult] = []
        created = updated = unchanged = rows = 0
        with open(path, "rb") as stream:
            fmt = detect_format(stream, codec)
            header_cells, records = read_records(stream, fmt)
            header = map_header(header_cells, DOMAIN_COLUMNS, ("domain",), DOMAIN_SYNONYMS)
            for record in records:
                rows = record.row
                if record.blank:
                    continue
                if len(record.cells) != header.width:
                    bad.append(RowResult(record.row, False, "", Why.DOMAIN_ROW_WIDTH(cells=len(record.cells),
                                                                                     width=header.width)))
                    continue
                values = {c: unguard(record.cells[i]) for c, i in header.index.items()}
                written = values.pop("domain").strip()
                name = printable(written)  # as the report shows it
                control = first_control(record.cells)
                if control is not None:  # NUL and the like: never to the directory (slapd's invalidDNSyntax)
                    position, char = control
                    bad.append(RowResult(record.row, False, header.name_of(position),
                                         Why.TEXT_CONTROL_CHARACTER(code=f"{ord(char):04X}"), name))
                    continue
                limits = {("quota_pool" if k == "quota" else k): (v.strip() or None)
                          for k, v in values.items() if k != "description"}
                try:
                    # the stored form (lower case, A-labels): an IDN name finds its domain again
                    stored = normalize_domain(written, "domain")
                    existing = self.b.domains.find(stored)
                    if existing is None:
                        domains.add(stored, description=values.get("description", ""), **limits)
                        created += 1
                    else:
                        description = values.get("description")
                        wanted = build_limits(existing.limits, **limits)
                        if wanted == existing.limits and description in (None, existing.description):
                            unchanged += 1  # nothing to write, nothing to audit
                        else:
                            domains.set(existing.name, description=description, **limits)
                            updated += 1
                except InvalidInput as exc:
                    column = "quota" if exc.field == "quota_pool" else exc.field
                    bad.append(RowResult(record.row, False, column, exc.why, name))
                except (AlreadyExists, NotFound, PermissionDenied) as exc:
                    bad.append(RowResult(record.row, False, "domain", exc.why, name))
        return DomainImportSummary(rows, created, updated, unchanged, tuple(bad), header.unknown)
