"""Load a generated data set (domains.csv + accounts.csv) into a stack's directory, fast.

    python bench/load_dataset.py --data-dir bench/out/stack --dataset bench/data/full

Loads the rows with the product's offline first load (`mailgothai load`,
stack/offline_load.py: the import's checks, the directory layer's own entry mapping,
`slapadd -q`, audit records), then starts the stack. The online importer is issue 4's.

Passwords: `{ARGON2}`/`{SSHA}`… values are stored as given (generate the set with
`--passwords hashed`); plain ones are hashed and blank ones generated (in the load's
owner-only result file), as `load` does: ~85 argon2id hashes a second on two cores, so a
full set of plain passwords takes ~40 minutes. `read_domains`/`read_accounts` stay for
the benches that build their own LDIF (bench_import, bench_ldap_transactions).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from mailgothai.core.addresses import normalize_address, normalize_domain, parse_address_list, split_address
from mailgothai.core.models import Account, Domain, DomainLimits, Status
from mailgothai.core.passwords import has_scheme_prefix, validate_stored_hash
from mailgothai.core.quota import parse_size
from mailgothai.errors import InvalidInput
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager, offline_load

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
    """Load the set offline into the (prepared, stopped) stack of `settings` with the
    product's own `mailgothai load` path (stack/offline_load.py), then start the stack."""
    manager.down(settings)
    outcome = offline_load.load(settings, dataset / "accounts.csv", dataset / "domains.csv", actor="bench",
                                origin="bench")
    if not outcome.loaded:
        bad = outcome.plan.bad[:5] + outcome.plan.domain_bad[:5]
        raise SystemExit(f"{outcome.plan.bad_count} bad rows, nothing loaded: "
                         + "; ".join(f"row {r.row} {r.column}: {r.reason}" for r in bad))
    manager.up(settings)
    plan = outcome.plan
    return {"entries": len(plan.rows) + 3 * len(plan.domains), "domains": len(plan.domains),
            "accounts": len(plan.rows), "generated_passwords": outcome.generated,
            "result_file": str(outcome.result_file or ""),
            **{name: round(value, 1) for name, value in outcome.timings.items()}}


if __name__ == "__main__":
    raise SystemExit(main())
