"""Issue 19: backup and restore of the full directory and SQL store (mail excluded).

    python -m bench.bench_backup [--data-dir bench/out/backup-full] [--dataset bench/data/full]
        [--rounds 2] [--reuse]

1. Loads the data set (434 domains, 207,074 accounts with hashed passwords) into a stack of
   its own on free loopback ports (bench/load_dataset.py: slapadd -q, then `stack up`);
   --reuse keeps a data dir an earlier run loaded.
2. With the stack running, times `mailgothai backup --out B --no-mail` as an operator runs
   it (a process of its own: slapcat -n0/-n1, the SQLite online backup, keys, settings,
   the manifest and its checksums). Target: <= 60 s.
3. In the same run, --rounds times alternately: a bare `slapadd -q -n1` of the backup's
   data.ldif into a scratch cn=config (made by the project's slapd code, no base entries),
   and `mailgothai restore B --data-dir NEW` (verify first, settings, cn=config, slapadd -q,
   SQL, files). Target: restore <= 2 x slapadd -q.
Prints one JSON line. The stack is stopped at the end; the restored and scratch dirs are
removed, the backup and the loaded data dir kept (remove bench/out/backup-full* when done).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_lifecycle import free_port
from bench.load_dataset import load_into
from mailgothai.settings import Settings, load_settings, save_settings
from mailgothai.stack import manager, slapd
from mailgothai.stack.process import run_tool

PORTS = ("ldap_port", "imap_port", "imaps_port", "lmtp_port", "managesieve_port", "smtp_port", "submission_port",
         "smtps_port", "web_port", "auth_policy_port", "rspamd_port", "rspamd_controller_port", "redis_port",
         "relay_metrics_port", "dovecot_metrics_port")


def with_free_ports(settings: Settings) -> Settings:
    taken: set[int] = set()
    ports = {}
    for name in PORTS:
        ports[name] = free_port(taken)
        taken.add(ports[name])
    return settings.replace(protection=0, **ports)


def mailgothai(*args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mailgothai.cli.main", *args], capture_output=True, text=True,
                          env=env, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"mailgothai {' '.join(args)} failed: {done.stderr}")
    return elapsed


def bare_slapadd(ldif: Path, scratch: Path, base: Settings) -> float:
    """slapadd -q of `ldif` alone, into a cn=config the project's code makes (indexes, schema)."""
    shutil.rmtree(scratch, ignore_errors=True)
    settings = base.replace(data_dir=scratch)
    scratch.mkdir(parents=True, mode=0o700)
    slapd.initialise(settings, 1, skeleton=False)
    config = slapd.paths_for(settings, 1).config_dir
    started = time.monotonic()
    run_tool([slapd.tool("slapadd"), "-q", "-n1", "-F", str(config), "-l", str(ldif)], what="bare slapadd")
    elapsed = time.monotonic() - started
    shutil.rmtree(scratch, ignore_errors=True)
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path("bench/out/backup-full"))
    ap.add_argument("--dataset", type=Path, default=Path("bench/data/full"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="the data dir is already loaded")
    args = ap.parse_args()
    data_dir = args.data_dir.resolve()
    result: dict[str, object] = {"machine": f"{os.cpu_count()} cores"}
    if args.reuse and (data_dir / "mailgothai.toml").is_file():
        settings = load_settings(data_dir=data_dir, environ={})
        manager.up(settings)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
        settings = with_free_ports(load_settings(data_dir=data_dir, environ={}))
        data_dir.mkdir(parents=True, mode=0o700)
        save_settings(settings)
        result["load"] = load_into(manager.prepare(settings), args.dataset.resolve())
        settings = load_settings(data_dir=data_dir, environ={})
    backups = data_dir.with_name(data_dir.name + "-backups")
    backups.mkdir(exist_ok=True, mode=0o700)
    out = backups / time.strftime("b-%Y%m%dT%H%M%S")
    restored = data_dir.with_name(data_dir.name + "-restored")
    scratch = data_dir.with_name(data_dir.name + "-scratch")
    try:
        result["backup_s"] = round(mailgothai("--data-dir", str(data_dir), "backup", "--out", str(out), "--no-mail",
                                              "--quiet"), 2)
    finally:
        manager.down(settings)
    manifest = json.loads((out / "manifest.json").read_text())
    result["counts"] = manifest["counts"]
    result["backup_bytes"] = {rel: rec["size"] for rel, rec in manifest["files"].items()
                              if rel.startswith(("directory/", "sql/"))}
    result["verify_s"] = round(mailgothai("backup", "verify", str(out)), 2)
    slapadds, restores = [], []
    for _ in range(args.rounds):
        slapadds.append(bare_slapadd(out / "directory" / "data.ldif", scratch, settings))
        shutil.rmtree(restored, ignore_errors=True)
        restores.append(mailgothai("restore", str(out), "--data-dir", str(restored), "--quiet"))
        shutil.rmtree(restored, ignore_errors=True)
    result["slapadd_q_s"] = [round(x, 2) for x in slapadds]
    result["restore_s"] = [round(x, 2) for x in restores]
    ratio = statistics.median(restores) / statistics.median(slapadds)
    result["restore_over_slapadd"] = round(ratio, 2)
    result["targets"] = {"backup <= 60 s": result["backup_s"] <= 60,  # type: ignore[operator]
                         "restore <= 2 x slapadd -q": ratio <= 2}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
