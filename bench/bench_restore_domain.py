"""Issue 19: `mailgothai restore DIR --domain D` for the largest ministries of the full data set.

    python bench/load_dataset.py --data-dir bench/out/restore-domain --dataset bench/data/full
    python -m bench.bench_restore_domain --data-dir bench/out/restore-domain --domain moph.go.th

Against the stack loaded by load_dataset (207,074 accounts), in one run:
  backup      `take_backup(mail=False)`: the directory and the SQL store (not measured here);
  recreate    every account of DOMAIN deleted for good (the entries removed as the rootdn, the
              domain's counters recounted: what a purge leaves), then `restore_domain`: the
              backup verified, data.ldif read for the domain, each account planned (found by
              mailbox id, address checked), room taken, added with its entryUUID, audited;
  raw_txn     the same entries (values; an entryUUID each, fresh) added as the rootdn under Relax
              Rules below a scratch OU (removed by the next run, untimed), in LDAP transactions
              of the restore's size, from entries already read (the LDAP work alone): the floor;
  raw_single  (--single) the same, one add each (what one add per account would cost);
  again       `restore_domain` a second time (every account exists: the plan only);
  verify      the backup's checks alone (`check_backup`: every file's SHA-256, the LDIF, SQLite);
  read        data.ldif read for the domain alone (`read_domain`).
Writes DATA_DIR/restore-domain-results.json. Stops nothing: `mailgothai --data-dir DATA_DIR stack
down` when done.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

from mailgothai.core.models import Role
from mailgothai.directory import escaping as f
from mailgothai.directory.entries import unit_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.recreate import add_all_keeping_identity, add_keeping_identity, entry_values
from mailgothai.services.actor import Actor
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack.backup import take_backup
from mailgothai.stack.restore_domain import RECREATE_BATCH, check_backup, read_domain, restore_domain


def manager(settings: Settings) -> Gateway:
    return Gateway(settings.ldap_uri_list[:1], settings.ldap_manager_dn, settings.ldap_manager_password,
                   timeout=settings.ldap_timeout)


def remove_accounts(settings: Settings, services: Services, domain: str) -> int:
    """Every account entry of the domain deleted as the rootdn, the counters recounted."""
    gw = manager(settings)
    layout = services.backends.layout
    try:
        dns = [e.dn for e in gw.iter_paged(layout.users(domain), f.eq("objectClass", "mgtAccount"), ("1.1",))]
        for dn in dns:
            gw.delete(dn)
    finally:
        gw.close()
    services.backends.domains.recount(domain)
    return len(dns)


def remove_scratch(settings: Settings) -> int:
    """The scratch OUs of earlier runs (ou=raw-*), their entries first (not timed)."""
    gw = manager(settings)
    removed = 0
    try:
        for unit in gw.search(settings.ldap_base, "(ou=raw*)", ("1.1",), scope="LEVEL"):
            for entry in gw.iter_paged(unit.dn, "(objectClass=mgtAccount)", ("1.1",)):
                gw.delete(entry.dn)
                removed += 1
            gw.delete(unit.dn)
    finally:
        gw.close()
    return removed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--domain", default="moph.go.th")
    ap.add_argument("--reuse-backup", action="store_true", help="use DATA_DIR-backup if a run left it")
    ap.add_argument("--keep-backup", action="store_true")
    ap.add_argument("--single", action="store_true", help="also the raw adds one at a time (slow)")
    args = ap.parse_args()
    os.umask(0o077)
    settings = load_settings(data_dir=args.data_dir)
    backup = args.data_dir.parent / f"{args.data_dir.name}-backup"
    results: dict[str, object] = {"domain": args.domain, "cpus": os.cpu_count()}
    if not (args.reuse_backup and backup.is_dir()):
        shutil.rmtree(backup, ignore_errors=True)
        started = time.perf_counter()
        take_backup(settings, backup, mail=False)
        results["backup_s"] = round(time.perf_counter() - started, 2)
    operator = Actor("bench", Role.SUPERADMIN, origin="bench")
    with Services.open(settings, operator) as services:
        started = time.perf_counter()
        check_backup(backup)
        results["verify_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        saved = read_domain(backup, args.domain)
        results["read_s"] = round(time.perf_counter() - started, 2)
        results["accounts"] = len(saved.accounts)

        results["removed"] = remove_accounts(settings, services, args.domain)
        results["scratch_removed"] = remove_scratch(settings)
        started = time.perf_counter()
        report = restore_domain(services, backup, args.domain)
        results["restore_s"] = round(time.perf_counter() - started, 2)
        results["recreated"] = report.count("recreated")

        started = time.perf_counter()
        again = restore_domain(services, backup, args.domain)
        results["again_s"] = round(time.perf_counter() - started, 2)
        results["again_kept"] = again.count("kept")

        # The floor, without deleting 17,000 entries again first (one at a time: slow): the
        # same entries and values added below a scratch OU of their own (Dovecot and the
        # relay search ou=domains only), removed by the next run.
        scratch = f"ou=raw-{int(time.time())},{settings.ldap_base}"
        # Fresh entryUUIDs (the same work for slapd): the restore's own look for every id
        # would otherwise find these copies on a later run and skip every account.
        prepared = [(f"{e.dn.partition(',')[0]},{scratch}",
                     {**entry_values(e), "entryuuid": [str(uuid.uuid4()).encode()]}) for e in saved.accounts]
        gw = manager(settings)
        try:
            gw.add(unit_entry(scratch))
            started = time.perf_counter()
            for start in range(0, len(prepared), RECREATE_BATCH):
                add_all_keeping_identity(gw, prepared[start:start + RECREATE_BATCH])
            results["raw_txn_s"] = round(time.perf_counter() - started, 2)
            if args.single:
                single = f"ou=raw1-{int(time.time())},{settings.ldap_base}"
                gw.add(unit_entry(single))
                started = time.perf_counter()
                for dn, values in prepared:
                    add_keeping_identity(gw, dn.replace(scratch, single), values)
                results["raw_single_s"] = round(time.perf_counter() - started, 2)
        finally:
            gw.close()
    results["ratio_restore_to_raw_txn"] = round(float(str(results["restore_s"])) / float(str(results["raw_txn_s"])), 2)
    (args.data_dir / "restore-domain-results.json").write_text(json.dumps(results, indent=2) + "\n")
    json.dump(results, sys.stdout, indent=2)
    print()
    if not args.keep_backup:
        shutil.rmtree(backup, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
