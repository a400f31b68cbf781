"""Load a generated data set (domains.csv + accounts.csv) into a stack's directory, fast.

    python bench/load_dataset.py --data-dir bench/out/stack --dataset bench/data/full

Converts the rows to LDIF with the directory layer's own entry mapping (so the entries
are exactly those `account add` writes, domain counters included), then loads them
offline with `slapadd -q` and starts the stack. This is the bulk path for a first load;
the online importer is issue 4's.

Passwords: `{ARGON2}`/`{SSHA}`… values are stored as given (generate the set with
`--passwords hashed`); plain or blank ones get one argon2id hash of BENCH_PASSWORD,
since hashing 207,074 passwords would take ~40 minutes and is not what this measures.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from mailgothai.core.addresses import normalize_address, normalize_domain, parse_address_list, split_address
from mailgothai.core.models import Account, Domain, DomainLimits, Status
from mailgothai.core.passwords import Argon2Params, has_scheme_prefix, hash_password, validate_stored_hash
from mailgothai.core.quota import parse_size
from mailgothai.directory import accounts as account_entries
from mailgothai.directory import domains as domain_entries
from mailgothai.directory.entries import unit_entry
from mailgothai.directory.layout import Layout
from mailgothai.directory.ldif import entry_ldif
from mailgothai.errors import InvalidInput
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager, slapd

BENCH_PASSWORD = "Bench-password-1"


def read_domains(path: Path) -> dict[str, Domain]:
    out: dict[str, Domain] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            name = normalize_domain(row["domain"])
            default = parse_size(row.get("default_quota") or "1G", "default_quota")
            out[name] = Domain(name, row.get("description", ""), Status.ACTIVE, DomainLimits(
                max_accounts=int(row.get("max_accounts") or 0), quota_pool=parse_size(row.get("quota") or "0"),
                default_quota=default))
    return out


def read_accounts(path: Path, domains: dict[str, Domain], fallback_hash: str):
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=1):
            try:
                email = normalize_address(row["email"])
                domain = domains[split_address(email)[1]]
                quota = parse_size(row["quota"]) if row.get("quota") else domain.limits.default_quota
                account = Account(
                    email=email, domain=domain.name, quota=quota, status=Status.parse(row.get("status") or "active"),
                    given_name=row.get("given_name", ""), surname=row.get("surname", ""),
                    display_name=row.get("display_name", ""),
                    aliases=parse_address_list(row.get("aliases", ""), "aliases"),
                    forwards=parse_address_list(row.get("forward", ""), "forward"),
                )
            except (InvalidInput, KeyError) as exc:
                print(f"row {n}: skipped ({exc})", file=sys.stderr)
                continue
            if email in seen:
                continue
            seen.add(email)
            password = row.get("password", "")
            yield account, validate_stored_hash(password) if has_scheme_prefix(password) else fallback_hash


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--dataset", required=True, type=Path, help="folder with domains.csv and accounts.csv")
    args = ap.parse_args()
    print(json.dumps(load_into(manager.prepare(load_settings(data_dir=args.data_dir)), args.dataset)))
    return 0


def load_into(settings: Settings, dataset: Path) -> dict[str, object]:
    """Load the set offline into the (prepared) stack of `settings`, then start the stack."""
    layout = Layout(settings.ldap_base)
    fallback = hash_password(BENCH_PASSWORD, Argon2Params(settings.argon2_time_cost, settings.argon2_memory_kib,
                                                          settings.argon2_parallelism))
    started = time.monotonic()
    domains = read_domains(dataset / "domains.csv")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for account, _ in read_accounts(dataset / "accounts.csv", domains, fallback):
        counts[account.domain][0] += 1
        counts[account.domain][1] += account.quota

    ldif = settings.data_dir / "load.ldif"
    entries = 0
    with open(ldif, "w", encoding="ascii") as out:
        for domain in domains.values():
            count, allocated = counts[domain.name]
            full = Domain(domain.name, domain.description, domain.status, domain.limits, count, allocated)
            dn = layout.domain(domain.name)
            out.write(entry_ldif(domain_entries.domain_entry(dn, full)))
            for ou in domain_entries.CONTAINERS:
                out.write(entry_ldif(unit_entry(f"ou={ou},{dn}")))
            entries += 3
        for account, password_hash in read_accounts(dataset / "accounts.csv", domains, fallback):
            out.write(entry_ldif(account_entries.account_entry(layout.account(account.email), account, password_hash)))
            entries += 1
    converted = time.monotonic() - started

    manager.down(settings)
    started = time.monotonic()
    slapd.load_offline(settings, ldif)
    loaded = time.monotonic() - started
    ldif.unlink()
    manager.up(settings)
    return {"entries": entries, "domains": len(domains), "accounts": sum(c[0] for c in counts.values()),
            "convert_s": round(converted, 1), "slapadd_s": round(loaded, 1),
            "password_for_plain_rows": BENCH_PASSWORD}


if __name__ == "__main__":
    raise SystemExit(main())
