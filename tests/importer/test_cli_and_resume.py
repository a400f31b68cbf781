"""The real `mailgothai import`/`export` commands as subprocesses; kill -9 and resume."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mailgothai.datagen import Spec, generate
from mailgothai.datagen.badrows import KINDS
from mailgothai.services.imports import ImportService
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.store.jobs import JobState, JobStore, RowState
from tests.conftest import Cli
from tests.importer.helpers import expected_rows
from tests.importer.test_import_service import creates_in_audit, load_domains, snapshot

pytestmark = pytest.mark.sql


def tag() -> str:
    return "c" + uuid.uuid4().hex[:8]


def test_cli_import_report_exit_codes_and_export(cli: Cli, services: Services, tmp_path: Path) -> None:
    generate(Spec(tmp_path, domains=3, accounts=60, bad_rows=len(KINDS), awkward_rows=8, encoding="cp874",
                  passwords="blank", tag=tag()))
    done = cli("import-domains", str(tmp_path / "domains.csv"))
    assert done.returncode == 0, done.stderr
    assert "3 domains created" in done.stdout

    dry = cli("import", str(tmp_path / "accounts.csv"), "--dry-run", "--report", str(tmp_path / "dry.csv"))
    assert dry.returncode == 3, dry.stderr
    domains = load_domains_names(tmp_path)
    assert all(next(services.accounts.iter_domain(d), None) is None for d in domains)  # nothing written

    run = cli("import", str(tmp_path / "accounts.csv"), "--report", str(tmp_path / "report.csv"),
              "--result", str(tmp_path / "result.csv"))
    assert run.returncode == 3, run.stderr
    with open(tmp_path / "report.csv", newline="", encoding="utf-8-sig") as fh:
        reported = [r for r in csv.DictReader(fh)]
    assert {int(r["row"]) for r in reported} == expected_rows(tmp_path)
    assert all(r["column"] and r["reason"] for r in reported)
    assert "applied: 68 created" in run.stdout
    assert (tmp_path / "result.csv").stat().st_mode & 0o777 == 0o600
    assert "applying:" in run.stderr  # plain progress lines when not on a terminal

    again = cli("import", str(tmp_path / "accounts.csv"))
    assert again.returncode == 3 and "nothing changed" in again.stdout

    export = cli("export", "--domain", domains[0], "-o", str(tmp_path / "out.csv"))
    assert export.returncode == 0, export.stderr
    back = cli("import", str(tmp_path / "out.csv"))
    assert back.returncode == 0, back.stdout + back.stderr
    assert "nothing changed" in back.stdout
    stdout_export = cli("export", "--domain", domains[1], "--encoding", "utf-8")
    assert stdout_export.stdout.startswith("email,given_name,surname,display_name,password,quota,status")

    (tmp_path / "bad.csv").write_bytes(b"name,quota\nx,1G\n")
    unusable = cli("import", str(tmp_path / "bad.csv"))
    assert unusable.returncode == 2 and "file: the header has no email column" in unusable.stderr
    (tmp_path / "utf16.csv").write_bytes("email\na@b.go.th\n".encode("utf-16"))
    assert cli("import", str(tmp_path / "utf16.csv")).returncode == 2


def load_domains_names(folder: Path) -> list[str]:
    with open(folder / "domains.csv", newline="", encoding="cp874") as fh:
        return [r["domain"] for r in csv.DictReader(fh)]


def _popen(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    return subprocess.Popen(
        [sys.executable, "-m", "mailgothai.cli.main", "--data-dir", str(settings.data_dir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )


def _kill_when(proc: subprocess.Popen[str], jobs: JobStore, path: Path, job_id: int | None,
               applied_at_least: int, delay: float = 0.0) -> int | None:
    """SIGKILL the import (its whole process group: hashing workers too) once `applied_at_least`
    rows are applied (0: while it validates). Returns the job id, None if it finished first."""
    while proc.poll() is None:
        if job_id is None:
            mine = [j for j in jobs.recent(limit=20) if j.file_path == str(path)]
            job_id = mine[0].id if mine else None
        if job_id is not None:
            job = jobs.get(job_id)
            applied = sum(n for (_, state), n in jobs.counts(job_id).items()
                          if state in (RowState.APPLIED.value, RowState.FAILED.value))
            if (applied_at_least == 0 and job.validated_rows > 0) or (applied_at_least and applied >= applied_at_least):
                time.sleep(delay)  # somewhere inside the next chunk: its writes, its commits
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                print(f"killed job {job_id} ({job.state.value}) with {applied} rows applied")
                return job_id
        time.sleep(0.005)
    proc.communicate()
    return job_id


def test_kill_9_at_random_points_then_resume_equals_a_clean_import(services: Services, stack: Settings,
                                                                     tmp_path: Path) -> None:
    rng = random.Random()
    seed = rng.randrange(10**6)
    print(f"kill points drawn with seed {seed}")
    rng.seed(seed)
    manifest = generate(Spec(tmp_path, domains=5, accounts=700, bad_rows=len(KINDS), awkward_rows=10,
                             passwords="mixed", tag=tag(), hash_cost=(1, 1024)))
    domains = load_domains(services, tmp_path)
    jobs = JobStore(services.backends.store)
    path = (tmp_path / "accounts.csv").resolve()
    creates = manifest.accounts_valid

    job_id = _kill_when(_popen(stack, "import", str(path)), jobs, path, None,
                        rng.choice([0, rng.randrange(1, creates // 2)]), rng.uniform(0, 0.4))
    assert job_id is not None
    kills = 1
    for _ in range(2):
        state = jobs.get(job_id).state
        if state is JobState.DONE:
            break
        applied = sum(n for (_, s), n in jobs.counts(job_id).items() if s == "applied")
        target = rng.randrange(applied + 1, max(applied + 2, creates))
        _kill_when(_popen(stack, "import", "--resume", str(job_id)), jobs, path, job_id, target, rng.uniform(0, 0.4))
        kills += 1
    final = _popen(stack, "import", "--resume", str(job_id))
    out, err = final.communicate(timeout=600)
    assert final.returncode == 3, out + err  # the bad rows
    job = jobs.get(job_id)
    assert job.state is JobState.DONE
    assert {r.row for r in jobs.iter_rows(job_id, (RowState.REJECTED, RowState.FAILED))} == expected_rows(tmp_path)

    resumed = snapshot(services, domains)
    created = creates_in_audit(services, domains)
    assert len(created) == len(set(created)) == creates  # no duplicate audit creates
    assert len(resumed[0]) == creates

    # The same file imported cleanly into the same (emptied and recreated) domains.
    for d in domains:
        services.domains.delete(d, force=True)
    load_domains(services, tmp_path)
    clean = ImportService(services.backends, services.actor).run_file(path)
    assert clean.created == creates
    assert snapshot(services, domains) == resumed
    print(f"{kills} kills; resumed import equals the clean one")
