"""The offline first load of issue 19 against the raw component, in the same run:

    python -m bench.bench_load --work bench/out/load --dataset bench/data/full [--rounds 2]

Each round, interleaved:
  load   `mailgothai --data-dir FRESH load accounts.csv --domains domains.csv --keep-ldif L`,
         end to end as an operator runs it (a separate process: settings and data dir
         prepared, both files checked as `import --dry-run` does, passwords, LDIF through a
         pipe into `slapadd -q`, audit records in the SQL store, the swap of the database);
  bare   `slapadd -q -n1 -F ... -l L` of the LDIF that load gave slapadd (kept by
         --keep-ldif: the same entries, base included) into another fresh data dir, prepared
         first and its database emptied, outside the timing.
Wall seconds and CPU seconds (user + system of the process and its children) of each.
The target (issue 19): load ≤ 2 × bare. Data set: `python -m mailgothai.datagen --out DIR
--passwords hashed` (stored hashes: a file of plain passwords is bounded by argon2id, ~85
hashes a second on two cores, and is not what this compares). Each data dir is removed
after its round; the last LDIF is kept in WORK. The loads use a free loopback port for
their (never started) slapd, so a stack running on the default ports does not refuse them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mailgothai.settings import load_settings
from mailgothai.stack import manager, slapd

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children_cpu() -> float:
    """User + system CPU seconds of the waited-for children (and theirs: slapadd, hashers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_load(data_dir: Path, dataset: Path, ldif: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(data_dir), "load",
           str(dataset / "accounts.csv"), "--domains", str(dataset / "domains.csv"), "--keep-ldif", str(ldif)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    env["MAILGOTHAI_LDAP_PORT"] = str(free_port())
    started, cpu = time.monotonic(), _children_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    elapsed, cpu = time.monotonic() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"load failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    timings = [line for line in done.stderr.splitlines() if line.startswith("timings: ")]
    return {"seconds": round(elapsed, 2), "cpu_seconds": round(cpu, 1),
            "own_timings": timings[-1][len("timings: "):] if timings else "",
            "summary": done.stdout.splitlines()[0]}


def run_bare(data_dir: Path, ldif: Path) -> dict[str, Any]:
    settings = manager.prepare(load_settings(data_dir=data_dir, environ={"MAILGOTHAI_LDAP_PORT": str(free_port())}))
    paths = slapd.paths_for(settings)
    for name in os.listdir(paths.db_dir):  # an empty database: the LDIF carries the base too
        os.unlink(paths.db_dir / name)
    cmd = [slapd._tool("slapadd"), "-q", "-n1", "-F", str(paths.config_dir), "-l", str(ldif)]
    started, cpu = time.monotonic(), _children_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed, cpu = time.monotonic() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"slapadd failed ({done.returncode}): {done.stderr}")
    return {"seconds": round(elapsed, 2), "cpu_seconds": round(cpu, 1), "command": " ".join(cmd)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (data dirs, the LDIF, results)")
    ap.add_argument("--dataset", type=Path, required=True, help="folder with domains.csv and accounts.csv")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    dataset = args.dataset.resolve()
    ldif = work / "load.ldif"
    rounds: list[dict[str, Any]] = []
    for n in range(1, args.rounds + 1):
        loaded_dir, bare_dir = work / f"load-{n}", work / f"bare-{n}"
        for folder in (loaded_dir, bare_dir):
            shutil.rmtree(folder, ignore_errors=True)
        load = run_load(loaded_dir / "data", dataset, ldif)
        shutil.rmtree(loaded_dir)
        bare = run_bare(bare_dir / "data", ldif)
        shutil.rmtree(bare_dir)
        rounds.append({"round": n, "load": load, "bare_slapadd": bare,
                       "ratio": round(load["seconds"] / bare["seconds"], 2),
                       "cpu_ratio": round(load["cpu_seconds"] / bare["cpu_seconds"], 2)})
        print(json.dumps(rounds[-1]), flush=True)
    result = {"dataset": str(dataset), "ldif_bytes": ldif.stat().st_size, "rounds": rounds,
              "median_ratio": statistics.median(r["ratio"] for r in rounds),
              "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rounds), "target": "load <= 2 x bare",
              "load_average_after": os.getloadavg()}
    (work / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
