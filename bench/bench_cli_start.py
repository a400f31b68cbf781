"""How long a CLI command takes from start to answer: `mailgothai account show EMAIL`
against a private stack, this checkout against another one (an older commit's worktree,
`--baseline DIR`), interleaved run by run so both see the same machine.

    python -m bench.bench_cli_start --baseline ../old-tree --runs 15

Both trees run with this venv's interpreter and packages; each tree's own `mailgothai`
package is the one imported (the command runs with the tree as its working directory)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.stack import manager
from tests.conftest import stack_data_dir, stack_settings


def timed(tree: Path, data_dir: Path, email: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(data_dir),
                           "account", "show", email], cwd=tree, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or email not in done.stdout:
        raise SystemExit(f"{tree}: account show failed: {done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, type=Path, help="a worktree of the commit to compare with")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    with stack_data_dir("clibench") as data_dir:
        settings = manager.up(stack_settings(data_dir)).settings
        try:
            with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as svc:
                svc.domains.add("bench.go.th", description="bench")
                email = "somchai@bench.go.th"
                svc.accounts.add(email, PasswordInput(plain="Bench-pass-1234"))
            times: dict[str, list[float]] = {"new": [], "baseline": []}
            timed(here, settings.data_dir, email)  # warm the page cache for both
            timed(args.baseline.resolve(), settings.data_dir, email)
            for run in range(args.runs):
                order = [("new", here), ("baseline", args.baseline.resolve())]
                for name, tree in order if run % 2 == 0 else reversed(order):
                    times[name].append(timed(tree, settings.data_dir, email))
        finally:
            manager.down(settings)
    result = {name: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3), "runs": len(v)}
              for name, v in times.items()}
    result["ratio_median"] = round(result["new"]["median_s"] / result["baseline"]["median_s"], 3)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
