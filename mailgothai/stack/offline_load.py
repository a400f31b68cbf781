"""`mailgothai load`: the offline first load of a whole service, with slapd stopped.

1. Refused while slapd runs: its PID file names a live slapd of this data directory, or
   anything answers on its LDAP port (nothing is read or changed then). One provider only.
2. The files are checked as `import --dry-run` checks them (`services/offline_load.py`);
   with any bad row nothing is changed (unless `skip_bad`: the good rows are loaded).
3. The data directory is prepared as `stack up` would (a fresh one gets its cn=config and
   base), and its directory must hold no account, alias, alias domain or shared mailbox
   yet (`slapcat`): the load is a service's first. Domains it holds (e.g. from
   `import-domains`) are the load's too, their counters rewritten. Adding accounts to a
   service is `import`'s.
4. Passwords hashed (plain and generated; one process per core); generated ones written,
   fsynced, to `DATA/loads/ID/result.csv` (owner-only) before anything is loaded.
5. All or nothing: the database directory `DATA/slapd/db` is moved to `db.before-load`
   (with the load's id in it), and a new `db` gets, through a pipe into `slapadd -q`, the
   old entries as slapcat gives them (entryUUIDs kept; domain counters rewritten), then
   the load's LDIF as it is written. Meanwhile the audit records are inserted in one
   SQL transaction, committed only once slapadd has succeeded; then the old database is
   removed. On any failure the new `db` is removed and the old one put back. A load killed
   half-way is settled by the next `load` (`recover`): if the SQL store holds the load's
   `directory.load` record it was complete (the old database is removed), otherwise the
   old database is put back.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import itertools
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mailgothai.core.csvimport import guard
from mailgothai.core.models import Domain
from mailgothai.core.password_lifecycle import Lifecycle
from mailgothai.core.password_policy import PasswordPolicy
from mailgothai.directory.domains import to_domain
from mailgothai.directory.entries import Entry
from mailgothai.directory.layout import Layout
from mailgothai.errors import StackError, StoreError
from mailgothai.probes import port_open
from mailgothai.services.offline_load import (
    LoadPlan,
    audit_records,
    hash_passwords,
    ldif_chunks,
    mark_must_change,
    plan_load,
    read_domains,
)
from mailgothai.settings import Settings
from mailgothai.stack import manager, slapd
from mailgothai.stack.private import UMASK
from mailgothai.stack.process import run_tool
from mailgothai.store import AuditLog, Store
from mailgothai.store.password_lifecycle import PasswordLifecycles
from mailgothai.store.password_policy import PasswordPolicies

BACKUP = "db.before-load"
LOAD_ID_FILE = "LOAD-ID"
LOADS = "loads"
RESULT_HEADER = ("row", "email", "outcome", "column", "reason", "password")
# Objects a first load must not find (below ou=domains: accounts, aliases, shared
# mailboxes, and alias domains beside the domains; deleted accounts are in ou=retained).
# Domains with none of these are the load's too.
EXISTING_FILTER = ("(|(objectClass=mgtAliasDomain)(objectClass=mgtAccount)(objectClass=mgtAlias)"
                   "(objectClass=mgtSharedMailbox))")
DOMAIN_FILTER = "(objectClass=mgtDomain)"

Progress = Callable[[str], None]


@dataclass
class LoadOutcome:
    plan: LoadPlan
    load_id: str = ""
    loaded: bool = False
    hashed: int = 0
    generated: int = 0
    must_change: int = 0  # accounts marked "change at next login"
    result_file: Path | None = None
    folder: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def refuse_while_running(settings: Settings) -> None:
    """slapd must be stopped: no live slapd of this data directory by its PID file, and
    nothing answering on its LDAP port (a slapd whose PID file is gone, or another one)."""
    nodes = list(slapd.nodes(settings))
    if len(nodes) > 1:
        raise StackError("load writes a single provider's database; this stack has "
                         f"{len(nodes)} (ldap_providers): load a single-provider data directory, then add providers")
    state = slapd.status(settings)
    if state.running:
        raise StackError(f"slapd is running (pid {state.pid}): stop the service first "
                         f"(mailgothai --data-dir {settings.data_dir} stack down); nothing was changed")
    port = slapd.port_of(settings, 1)
    if port_open(settings.host, port):
        raise StackError(f"something answers on {settings.host}:{port}, the directory's port (a slapd without its "
                         "PID file?): stop it first; nothing was changed")


def _db(settings: Settings) -> tuple[Path, Path]:
    paths = slapd.paths_for(settings)
    return paths.db_dir, paths.root / BACKUP


def recover(settings: Settings) -> str | None:
    """Settle a load that was killed half-way (see the module's text); None if there was none."""
    db, backup = _db(settings)
    if not backup.is_dir():
        return None
    try:
        load_id = (backup / LOAD_ID_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        load_id = ""
    store = Store.open(settings.sql_url_effective)
    try:
        complete = bool(load_id) and AuditLog(store).count(action="directory.load", object_id=load_id) > 0
    finally:
        store.close()
    if complete:
        shutil.rmtree(backup)
        return f"load {load_id} had completed; its old database removed"
    shutil.rmtree(db, ignore_errors=True)
    os.replace(backup, db)
    if load_id:
        (settings.data_dir / LOADS / load_id / "result.csv").unlink(missing_ok=True)
    return f"load {load_id or '?'} had not completed: the database as it was before it is back"


def _slapcat(settings: Settings, *more: str) -> str:
    """slapcat of the directory (unfolded lines), or "" for a data dir with no directory yet."""
    paths = slapd.paths_for(settings)
    if not (paths.config_dir / "cn=config.ldif").exists():
        return ""
    return run_tool([slapd._tool("slapcat"), "-n1", "-F", str(paths.config_dir), "-o", "ldif-wrap=no", *more],
                    what="slapcat")


def _records(text: str) -> list[str]:
    return [record for record in text.split("\n\n") if record.strip()]


def _entry(record: str) -> Entry:
    """One unfolded slapcat record as an Entry (raw values by lower-cased name)."""
    dn = ""
    attrs: dict[str, list[bytes]] = {}
    for line in record.strip().split("\n"):
        name, _, value = line.partition(":")
        raw = base64.b64decode(value[1:].strip()) if value.startswith(":") else value[1:].encode("utf-8")
        if name.lower() == "dn":
            dn = raw.decode("utf-8")
        else:
            attrs.setdefault(name.lower(), []).append(raw)
    return Entry(dn, attrs)


def existing_objects(settings: Settings) -> int:
    """How many accounts, aliases, alias domains and shared mailboxes the (stopped)
    directory holds, read with slapcat."""
    return len(_records(_slapcat(settings, "-a", EXISTING_FILTER)))


def existing_domains(settings: Settings) -> dict[str, Domain]:
    """The domains the (stopped) directory holds, read with slapcat."""
    domains = (to_domain(_entry(record)) for record in _records(_slapcat(settings, "-a", DOMAIN_FILTER)))
    return {domain.name: domain for domain in domains}


def _with_counters(base: str, plan: LoadPlan) -> str:
    """The directory's entries as slapcat gave them, each domain of the load that it
    holds with the counters the load gives it (every other line as it was)."""
    out = []
    for record in _records(base):
        lines = record.strip().split("\n")
        if "objectClass: mgtDomain" in lines:
            name = next((line[len("domainName: "):] for line in lines if line.startswith("domainName: ")), "")
            domain = plan.domains.get(name.lower())
            if domain is not None:
                lines = [line for line in lines if not line.startswith(("mgtAccountCount:", "mgtQuotaAllocated:"))]
                lines += [f"mgtAccountCount: {domain.account_count}", f"mgtQuotaAllocated: {domain.quota_allocated}"]
        out.append("\n".join(lines) + "\n\n")
    return "".join(out)


class _PolicyReader:
    """Each domain's password policy and password lifecycle as the import reads them
    (store/password_policy.py, store/password_lifecycle.py), from the SQL store if it
    exists yet; a data directory with none (a fresh one) has only the built-in ones, and
    the checks create nothing."""

    def __init__(self, settings: Settings) -> None:
        self._store: Store | None = None
        self._policies: PasswordPolicies | None = None
        self._lifecycles: PasswordLifecycles | None = None
        fresh = not settings.sql_url and not (settings.data_dir / "mailgothai.sqlite3").exists()
        if not fresh:
            self._store = Store.open(settings.sql_url_effective)
            self._policies = PasswordPolicies(self._store)
            self._lifecycles = PasswordLifecycles(self._store)

    def effective(self, domain: str) -> PasswordPolicy:
        if self._policies is None:
            return PasswordPolicy()
        try:
            return self._policies.effective(domain)
        except StoreError:  # a store made before the policies (migration 0009): the floor
            return PasswordPolicy()

    def lifecycle(self, domain: str) -> Lifecycle:
        if self._lifecycles is None:
            return Lifecycle()
        try:
            return self._lifecycles.get(domain)[0]
        except StoreError:  # a store made before the lifecycles (migration 0010): the defaults
            return Lifecycle()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
            self._policies = None
            self._lifecycles = None


def _new_load_id() -> str:
    return datetime.now(UTC).strftime("load-%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, write: Callable[[IO[str]], None]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8-sig") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())


def _write_result(path: Path, plan: LoadPlan, generated: dict[int, str]) -> None:
    import csv

    def write(fh: IO[str]) -> None:
        writer = csv.writer(fh)
        writer.writerow(RESULT_HEADER)
        for row in plan.rows:
            if row.row in generated:
                writer.writerow([row.row, guard(row.account.email), "created", "", "", generated[row.row]])
    _write_private(path, write)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _AuditWriter(threading.Thread):
    """Inserts the audit records in one transaction while slapadd runs; commits only when
    told that slapadd succeeded (`decide(True)`), rolls back otherwise."""

    def __init__(self, settings: Settings, records: Any) -> None:
        super().__init__(name="load-audit", daemon=True)
        self._settings = settings
        self._records = records
        self._decided = threading.Event()
        self._commit = False
        self.error: BaseException | None = None
        self.written = 0

    def decide(self, commit: bool) -> None:
        self._commit = commit
        self._decided.set()

    def _before_commit(self) -> None:
        self._decided.wait()
        if not self._commit:
            raise _NotCommitted

    def run(self) -> None:
        store = Store.open(self._settings.sql_url_effective)
        try:
            self.written = AuditLog(store).record_many(self._records, before_commit=self._before_commit)
        except _NotCommitted:
            pass
        except BaseException as exc:  # reported by the loading thread, which puts the database back
            self.error = exc
        finally:
            store.close()


class _NotCommitted(Exception):
    pass


def _slapadd(settings: Settings, chunks: Any, keep_ldif: Path | None) -> None:
    """slapadd -q reading the LDIF from a pipe as it is written (and copied to keep_ldif)."""
    paths = slapd.paths_for(settings)
    cmd = [slapd._tool("slapadd"), "-q", "-n1", "-F", str(paths.config_dir), "-l", "/dev/stdin"]
    err_file = paths.root / "slapadd-load.err"
    with open(err_file, "w+b", opener=lambda p, f: os.open(p, f, 0o600)) as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, umask=UMASK)
        assert proc.stdin is not None
        copy: IO[bytes] | None = None
        broken = False
        try:
            if keep_ldif is not None:
                copy = os.fdopen(os.open(keep_ldif, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
            for chunk in chunks:
                data = chunk.encode("utf-8")
                if copy is not None:
                    copy.write(data)
                if not broken:
                    try:
                        proc.stdin.write(data)
                    except BrokenPipeError:
                        broken = True  # slapadd stopped: its exit status and message say why
                        if copy is None:
                            break
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if copy is not None:
                copy.close()
        code = proc.wait()
        err.seek(0)
        message = err.read().decode("utf-8", "replace").strip()
    err_file.unlink(missing_ok=True)
    if code != 0:
        lines = [line for line in message.splitlines() if line.strip()][-5:]
        raise StackError(f"slapadd failed (exit {code}): " + " / ".join(lines))


def load(settings: Settings, accounts: Path, domains: Path | None, *, actor: str, origin: str = "cli",
         skip_bad: bool = False, dry_run: bool = False, must_change: bool = False, encoding: str | None = None,
         keep_ldif: Path | None = None,
         progress: Progress | None = None, hash_workers: int | None = None) -> LoadOutcome:
    """Load `accounts` (with the domains of `domains`) into the stopped stack of `settings`.
    Returns with `loaded` False, having changed nothing, when a row is bad (and not skip_bad)
    or with dry_run (the files checked only)."""
    say = progress or (lambda text: None)
    refuse_while_running(settings)
    message = recover(settings)  # first: the directory as it was before a load killed half-way
    if message:
        say(message)
    t0 = time.monotonic()
    # The directory's domains hold no account (else the load is refused below): their
    # counters start at zero whatever their entries say.
    held = {name: dataclasses.replace(d, account_count=0, quota_allocated=0)
            for name, d in existing_domains(settings).items()}
    domain_file = read_domains(domains, encoding, held)
    policies = _PolicyReader(settings)
    try:
        plan = plan_load(accounts, domain_file, encoding, policies.effective)
    except BaseException:
        policies.close()
        raise
    outcome = LoadOutcome(plan)
    outcome.timings["check_s"] = time.monotonic() - t0
    say(f"checked {plan.total_rows} rows: {len(plan.rows)} accounts in {len(plan.domains)} domains, "
        f"{plan.bad_count} bad rows")
    if dry_run or (plan.bad_count and not skip_bad) or (not plan.rows and not plan.domains):
        policies.close()
        return outcome

    t1 = time.monotonic()
    try:
        settings = manager.prepare(settings)
        found = existing_objects(settings)
        if found:
            raise StackError(f"the directory already holds {found} accounts, aliases, alias domains or shared "
                             "mailboxes: load is the first load of a service's accounts, into a directory with none "
                             "(add to a service with `mailgothai import`); nothing was changed")
        if set(existing_domains(settings)) != set(plan.domains) - set(plan.new_domains):
            raise StackError("the directory's domains changed while the files were checked; nothing was changed")
        outcome.timings["prepare_s"] = time.monotonic() - t1
        t1 = time.monotonic()
        outcome.must_change = mark_must_change(plan, policies.lifecycle, must_change)
        hashed = hash_passwords(plan, settings.argon2, hash_workers,
                                lambda done, total: say(f"hashed {done}/{total} passwords") if done == total else None,
                                policies.effective)
    finally:
        policies.close()
    outcome.hashed, outcome.generated = hashed.hashed, len(hashed.generated)
    outcome.timings["hash_s"] = time.monotonic() - t1

    load_id = outcome.load_id = _new_load_id()
    folder = outcome.folder = _private_dir(_private_dir(settings.data_dir / LOADS) / load_id)
    if hashed.generated:
        outcome.result_file = folder / "result.csv"
        _write_result(outcome.result_file, plan, hashed.generated)

    summary = {"accounts_file": accounts.name, "accounts_sha256": _sha256(accounts),
               "domains_file": domains.name if domains else None,
               "domains_sha256": _sha256(domains) if domains else None,
               "rows": plan.total_rows, "accounts": len(plan.rows), "domains": len(plan.domains),
               "new_domains": len(plan.new_domains), "bad_rows_skipped": plan.bad_count,
               "must_change_password": outcome.must_change,
               "passwords": {"kept": len(plan.rows) - hashed.hashed, "hashed": hashed.hashed - len(hashed.generated),
                             "generated": len(hashed.generated)}}
    db, backup = _db(settings)
    t2 = time.monotonic()
    # What the directory holds now (its base, service accounts, admins, domains with no
    # account), as slapcat gives it (entryUUIDs and CSNs included; the domains' counters
    # rewritten), goes first into the new database. Not a copy of data.mdb: that file is
    # as large as the map (sparse).
    base = _with_counters(_slapcat(settings), plan)
    os.replace(db, backup)
    try:
        (backup / LOAD_ID_FILE).write_text(load_id + "\n", encoding="utf-8")
        _private_dir(db)
    except BaseException:
        shutil.rmtree(db, ignore_errors=True)
        os.replace(backup, db)
        if outcome.result_file is not None:
            outcome.result_file.unlink(missing_ok=True)
        raise
    writer = _AuditWriter(settings, audit_records(plan, actor=actor, origin=origin, load_id=load_id,
                                                  summary=summary))
    writer.start()
    try:
        _slapadd(settings, itertools.chain((base,) if base else (),
                                           ldif_chunks(plan, Layout(settings.ldap_base), hashed.hashes)),
                 keep_ldif)
        outcome.timings["slapadd_s"] = time.monotonic() - t2
        writer.decide(True)
        writer.join()
        if writer.error is not None:
            raise StackError(f"the audit records could not be written: {writer.error}")
    except BaseException:
        writer.decide(False)
        writer.join()
        shutil.rmtree(db, ignore_errors=True)
        os.replace(backup, db)
        if outcome.result_file is not None:
            outcome.result_file.unlink(missing_ok=True)
            outcome.result_file = None
        raise
    shutil.rmtree(backup)
    outcome.loaded = True
    outcome.timings["total_s"] = time.monotonic() - t0
    return outcome
