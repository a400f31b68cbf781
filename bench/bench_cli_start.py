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
import tomllib
from pathlib import Path

import tomli_w

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.stack import manager
from tests.conftest import stack_data_dir, stack_settings


def settings_known_to(tree: Path, data_dir: Path) -> Path:
    """A copy of the stack's settings file holding only the settings `tree` knows: an older
    commit refuses a setting added since (e.g. managesieve_port), naming it."""
    names = subprocess.run([sys.executable, "-c", "import dataclasses, mailgothai.settings as s; "
                            "print(' '.join(f.name for f in dataclasses.fields(s.Settings)))"],
                           cwd=tree, capture_output=True, text=True, check=True).stdout.split()
    values = tomllib.loads((data_dir / "mailgothai.toml").read_text(encoding="utf-8"))
    path = data_dir / "baseline-settings.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(tomli_w.dumps({k: v for k, v in values.items() if k in names}))
    return path


def timed(tree: Path, data_dir: Path, email: str, config: Path | None = None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    where = ["--data-dir", str(data_dir)] if config is None else ["--config", str(config)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mailgothai.cli.main", *where,
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
            baseline = args.baseline.resolve()
            configs = {"new": None, "baseline": settings_known_to(baseline, settings.data_dir)}
            timed(here, settings.data_dir, email)  # warm the page cache for both
            timed(baseline, settings.data_dir, email, configs["baseline"])
            for run in range(args.runs):
                order = [("new", here), ("baseline", baseline)]
                for name, tree in order if run % 2 == 0 else reversed(order):
                    times[name].append(timed(tree, settings.data_dir, email, configs[name]))
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
