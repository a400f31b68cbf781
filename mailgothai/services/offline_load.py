"""The offline first load (`mailgothai load`), its checks and its entries: the importer's
own rules, with no directory to ask. `stack/offline_load.py` runs it against slapadd.

- **Domains** are those the directory already holds (added online, e.g. by
  `import-domains`, with no account yet) and those of a domains file in the
  `import-domains` format (domain, description, max_accounts, quota, default_quota,
  max_message_size, hourly_send_limit), each row checked by `import-domains`' rules
  (`build_limits`); a file row naming a domain the directory holds is refused. The load
  is the first load of a service's accounts: the directory holds no account, alias, alias
  domain or shared mailbox yet.
- **Accounts**: every row read and checked as `import --dry-run` does (the same
  `core/csvimport` reading, `parse_account_row` and `Planner`: duplicates, aliases,
  hosted domains, each domain's maximum accounts and quota pool on counters that include
  the rows before it). With no directory to ask, nothing holds an address yet.
- **Entries**: the directory layer's own mapping (`domains.domain_entry`,
  `accounts.account_entry`, `ldif.entry_ldif`), so a loaded account is exactly the entry
  `account add` and `import` write, password-upgrade mark included; each domain entry
  carries its final counters (accounts, allocated quota): a new one as written here, one
  the directory holds rewritten by stack/offline_load.py.
- **Passwords**: a stored hash (`{ARGON2}`, `{SSHA}`...) as given; a plain one hashed
  with argon2id; a blank one generated, then hashed. Hashing runs in one process per core
  (`core/csvimport/hashing.py`, as the importer's), ~85 a second on two cores with
  OWASP's cost: a file of plain passwords is slow to load, a file of hashes is not.
- **Change at next login**: marked as the importer marks new accounts (`mark_must_change`:
  the domain's lifecycle, or every account with `--must-change`).
- **Audit**: what `import` writes: `domain.create` per new domain, `account.create` per
  account; and one `directory.load` record with the counts (`audit_records`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.csvimport import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SYNONYMS,
    DOMAIN_COLUMNS,
    DOMAIN_SYNONYMS,
    ParsedRow,
    PasswordKind,
    Planner,
    RowResult,
    detect_format,
    map_header,
    parse_account_row,
    read_records,
)
from mailgothai.core.csvimport.cells import unguard
from mailgothai.core.csvimport.charsets import encoding_named
from mailgothai.core.csvimport.hashing import hash_many
from mailgothai.core.models import Account, Domain, DomainLimits
from mailgothai.core.password_lifecycle import Lifecycle
from mailgothai.core.password_policy import PasswordPolicy, Person, generate_for
from mailgothai.core.passwords import SCHEMES, Argon2Params, validate_stored_hash
from mailgothai.core.reasons import Why
from mailgothai.core.text import check_text
from mailgothai.directory import accounts as account_entries
from mailgothai.directory import domains as domain_entries
from mailgothai.directory.entries import unit_entry
from mailgothai.directory.layout import Layout
from mailgothai.directory.ldif import entry_ldif
from mailgothai.errors import AlreadyExists, InvalidInput
from mailgothai.services.domains import MAX_DESCRIPTION, build_limits

HASHES_PER_TASK = 64
LDIF_BATCH = 2000  # entries per string handed to slapadd


@dataclass(frozen=True)
class LoadRow:
    row: int
    account: Account
    kind: PasswordKind
    password: str  # a stored hash in its stored form, a plain password, or "" (generate)


@dataclass
class DomainFile:
    domains: dict[str, Domain] = field(default_factory=dict)  # the directory's, then the file's new ones
    new: list[str] = field(default_factory=list)  # the file's, in file order: entries to write
    bad: list[RowResult] = field(default_factory=list)
    rows: int = 0
    unknown_columns: tuple[str, ...] = ()


@dataclass
class LoadPlan:
    domains: dict[str, Domain]  # every domain of the load, with its counters after the load
    new_domains: list[str]  # those the load adds (the others are in the directory already)
    rows: list[LoadRow]  # the accounts, in file order
    bad: list[RowResult]  # the accounts file's bad rows
    domain_bad: list[RowResult]  # the domains file's
    total_rows: int = 0
    blank_rows: int = 0
    unknown_columns: tuple[str, ...] = ()
    encoding: str = ""

    @property
    def bad_count(self) -> int:
        return len(self.bad) + len(self.domain_bad)

    def kinds(self) -> dict[str, int]:
        counts = {kind.value: 0 for kind in PasswordKind}
        for row in self.rows:
            counts[row.kind.value] += 1
        return counts


def _require_file(path: Path, field: str) -> None:
    if not path.is_file():
        raise InvalidInput(field, Why.NO_SUCH_FILE(path=str(path)))


def read_domains(path: Path | None, encoding: str | None = None,
                 existing: Mapping[str, Domain] | None = None) -> DomainFile:
    """The domains file, each row checked as `import-domains` checks it; a domain named
    twice is refused on its later row, one the directory holds (`existing`, with no
    account yet) on its row. No file: the directory's domains only."""
    out = DomainFile(domains=dict(existing or {}))
    if path is None:
        return out
    _require_file(path, "file")
    with open(path, "rb") as stream:
        fmt = detect_format(stream, encoding_named(encoding) if encoding else None)
        header_cells, records = read_records(stream, fmt)
        header = map_header(header_cells, DOMAIN_COLUMNS, ("domain",), DOMAIN_SYNONYMS)
        out.unknown_columns = header.unknown
        first: dict[str, int] = {}
        for record in records:
            out.rows = record.row
            if record.blank:
                continue
            if len(record.cells) != header.width:
                out.bad.append(RowResult(record.row, False, "", Why.DOMAIN_ROW_WIDTH(
                    cells=len(record.cells), width=header.width)))
                continue
            values = {c: unguard(record.cells[i]) for c, i in header.index.items()}
            written = values.pop("domain").strip()
            limits = {("quota_pool" if k == "quota" else k): (v.strip() or None)
                      for k, v in values.items() if k != "description"}
            try:
                name = normalize_domain(written)
                description = check_text(values.get("description", ""), "description", MAX_DESCRIPTION)
                domain = Domain(name, description, limits=build_limits(DomainLimits(), **limits))
            except InvalidInput as exc:
                column = "quota" if exc.field == "quota_pool" else exc.field
                out.bad.append(RowResult(record.row, False, column, exc.why, written))
                continue
            if name in first:
                out.bad.append(RowResult(record.row, False, "domain", Why.ROW_DUPLICATE(row=first[name]), written))
                continue
            if name in out.domains:
                out.bad.append(RowResult(record.row, False, "domain", AlreadyExists("domain", name).why, written))
                continue
            first[name] = record.row
            out.domains[name] = domain
            out.new.append(name)
    return out


PolicyOf = Callable[[str], PasswordPolicy]


def plan_load(accounts: Path, domains: DomainFile, encoding: str | None = None,
              password_policy: PolicyOf | None = None) -> LoadPlan:
    """Every row of the accounts file checked and planned as `import --dry-run` does, into
    a directory holding only `domains` (a plain password against its domain's policy, as
    the import checks it). Unusable files raise InvalidInput (field "file")."""
    planner = Planner(domains.domains, password_policy=password_policy or (lambda domain: PasswordPolicy()))
    rows: list[LoadRow] = []
    bad: list[RowResult] = []
    blank = total = 0
    _require_file(accounts, "file")
    with open(accounts, "rb") as stream:
        fmt = detect_format(stream, encoding_named(encoding) if encoding else None)
        header_cells, records = read_records(stream, fmt)
        header = map_header(header_cells, ACCOUNT_COLUMNS, ("email",), ACCOUNT_SYNONYMS)
        password_at = header.index.get("password")
        for record in records:
            total = record.row
            if record.blank:
                blank += 1
                continue
            parsed = parse_account_row(record, header)
            if isinstance(parsed, ParsedRow):
                result = planner.plan(parsed, {})
                if isinstance(result, RowResult):
                    bad.append(result)
                    continue
                cell = record.cells[password_at] if password_at is not None else ""
                kind = parsed.password
                password = (_stored_form(cell) if kind is PasswordKind.HASH
                            else cell if kind is PasswordKind.PLAIN else "")
                rows.append(LoadRow(record.row, result.account, kind, password))
            else:
                bad.append(parsed)
    count: dict[str, int] = dict.fromkeys(domains.domains, 0)
    allocated: dict[str, int] = dict.fromkeys(domains.domains, 0)
    for row in rows:
        count[row.account.domain] += 1
        allocated[row.account.domain] += row.account.quota
    final = {name: dataclasses.replace(domain, account_count=count[name], quota_allocated=allocated[name])
             for name, domain in domains.domains.items()}
    return LoadPlan(final, list(domains.new), rows, bad, list(domains.bad), total, blank, header.unknown,
                    fmt.encoding)


_STORED_PREFIXES = tuple("{" + scheme + "}" for scheme in SCHEMES)


def _stored_form(cell: str) -> str:
    """The stored form of a hash the row's check accepted: the cell itself when its
    prefix is already the stored one (the usual case), else as validate_stored_hash gives it."""
    value = cell.strip()
    return value if value.startswith(_STORED_PREFIXES) else validate_stored_hash(cell)


@dataclass(frozen=True)
class Hashed:
    hashes: list[str]  # the stored value of each row of the plan, in its order
    generated: dict[int, str]  # row -> the password generated for it (blank cells)
    hashed: int  # how many were hashed here (plain and generated)


def hash_passwords(plan: LoadPlan, params: Argon2Params, workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   password_policy: PolicyOf | None = None) -> Hashed:
    """Each row's stored value: hashes kept; plain and generated passwords (drawn to meet
    the domain's policy) hashed with argon2id by one process per core, 64 to a task."""
    policy_of = password_policy or (lambda domain: PasswordPolicy())
    hashes = [row.password if row.kind is PasswordKind.HASH else "" for row in plan.rows]
    generated: dict[int, str] = {}
    todo: list[tuple[int, str]] = []
    for position, row in enumerate(plan.rows):
        if row.kind is PasswordKind.HASH:
            continue
        plain = row.password
        if row.kind is PasswordKind.GENERATE:
            account = row.account
            person = Person(account.email, account.given_name, account.surname, account.display_name)
            plain = generated[row.row] = generate_for(policy_of(account.domain), person)
        todo.append((position, plain))
    if todo:
        context = multiprocessing.get_context("spawn")  # the worker imports the core only
        with ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=context) as pool:
            tasks = [(todo[start:start + HASHES_PER_TASK],
                      pool.submit(hash_many, params, [p for _, p in todo[start:start + HASHES_PER_TASK]]))
                     for start in range(0, len(todo), HASHES_PER_TASK)]
            done = 0
            for group, task in tasks:
                for (position, _), value in zip(group, task.result(), strict=True):
                    hashes[position] = value
                done += len(group)
                if progress is not None:
                    progress(done, len(todo))
    return Hashed(hashes, generated, len(todo))


def mark_must_change(plan: LoadPlan, lifecycle_of: Callable[[str], Lifecycle], every: bool = False) -> int:
    """"Change at next login" as the importer marks new accounts: every one with `every`
    (import's --must-change), else by its domain's lifecycle (a generated password, by
    default; every new account, if the domain says so). Returns how many are marked."""
    lifecycles: dict[str, Lifecycle] = {}
    marked = 0
    for position, row in enumerate(plan.rows):
        domain = row.account.domain
        if domain not in lifecycles:
            lifecycles[domain] = lifecycle_of(domain)
        if every or lifecycles[domain].must_change_new(row.kind is PasswordKind.GENERATE):
            plan.rows[position] = dataclasses.replace(
                row, account=dataclasses.replace(row.account, must_change_password=True))
            marked += 1
    return marked


def ldif_chunks(plan: LoadPlan, layout: Layout, hashes: list[str]) -> Iterator[str]:
    """The load as LDIF, parents first: each new domain with its counters and its two
    containers, then every account in file order; a few thousand entries per string."""
    batch: list[str] = []
    for name in plan.new_domains:
        domain = plan.domains[name]
        dn = layout.domain(domain.name)
        batch.append(entry_ldif(domain_entries.domain_entry(dn, domain)))
        batch.extend(entry_ldif(unit_entry(f"ou={ou},{dn}")) for ou in domain_entries.CONTAINERS)
    yield "".join(batch)
    batch.clear()
    account_dn, entry = layout.account, account_entries.account_entry
    for row, password_hash in zip(plan.rows, hashes, strict=True):
        batch.append(entry_ldif(entry(account_dn(row.account.email), row.account, password_hash)))
        if len(batch) >= LDIF_BATCH:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)


def _account_after(account: Account) -> dict[str, Any]:
    """What `snapshot(account)` gives the import's audit record, built directly."""
    return {"email": account.email, "domain": account.domain, "quota": account.quota,
            "status": account.status.value, "given_name": account.given_name, "surname": account.surname,
            "display_name": account.display_name, "aliases": list(account.aliases),
            "forwards": list(account.forwards), "mailbox_id": "", "hold_reason": "",
            "must_change_password": account.must_change_password, "password_changed_at": None}


def _domain_after(domain: Domain) -> dict[str, Any]:
    out = dataclasses.asdict(domain)
    out["status"] = domain.status.value
    return out


def audit_records(plan: LoadPlan, *, actor: str, origin: str, load_id: str,
                  summary: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The import's records (`domain.create`, `account.create`), then the load's own
    (`directory.load`, object id the load's id, with its counts)."""
    for name in plan.new_domains:
        domain = plan.domains[name]
        yield {"actor": actor, "origin": origin, "action": "domain.create", "object_type": "domain",
               "object_id": domain.name, "domain": domain.name, "before": None, "after": _domain_after(domain)}
    for row in plan.rows:
        account = row.account
        yield {"actor": actor, "origin": origin, "action": "account.create", "object_type": "account",
               "object_id": account.email, "domain": account.domain, "before": None,
               "after": _account_after(account)}
    yield {"actor": actor, "origin": origin, "action": "directory.load", "object_type": "load",
           "object_id": load_id, "domain": None, "before": None, "after": summary}
