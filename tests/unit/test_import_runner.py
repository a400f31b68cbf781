"""The background runner of import jobs (services/import_runner.py): a failure before the
job records its own state is recorded on the job and logged, never swallowed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.import_files import job_dir, job_lock, sha256_of
from mailgothai.services.import_runner import record_failure, start_in_background
from mailgothai.settings import Settings
from mailgothai.store import Store
from mailgothai.store.jobs import JobState, JobStore

OPERATOR = Actor("operator", Role.SUPERADMIN, origin="web")


def a_job(tmp_path: Path) -> tuple[Settings, int]:
    """A data directory whose SQL store holds one registered (validating) job, and no
    directory server at all: nothing listens on the URI, so it is refused at once."""
    upload = tmp_path / "staff.csv"
    upload.write_text("email,password\nsomchai@moph.go.th,\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path, ldap_uris=("ldap://127.0.0.1:9",), ldap_timeout=2)
    store = Store.open(settings.sql_url_effective)
    try:
        store.migrate()
        job = JobStore(store).create(kind="accounts", actor=OPERATOR.login, origin="web", file_name=upload.name,
                                     file_path=str(upload), file_sha256=sha256_of(upload), dry_run=False)
    finally:
        store.close()
    return settings, job.id


def job_state(settings: Settings, job_id: int) -> tuple[JobState, str]:
    store = Store.open(settings.sql_url_effective)
    try:
        store.migrate()
        job = JobStore(store).get(job_id)
        return job.state, job.error
    finally:
        store.close()


@pytest.mark.parametrize("stage", ["validate", "apply"])
def test_a_failure_before_the_job_records_it_is_recorded_on_the_job_and_logged(
        tmp_path: Path, stage: str, caplog: pytest.LogCaptureFixture) -> None:
    settings, job_id = a_job(tmp_path)
    assert job_state(settings, job_id)[0] is JobState.VALIDATING
    with caplog.at_level(logging.ERROR, logger="mailgothai.imports"):
        start_in_background(settings, OPERATOR, job_id, stage).join()
    state, error = job_state(settings, job_id)
    assert state is JobState.FAILED  # not left "validating" with nobody working on it
    assert "unreachable" in error
    assert any(f"import job {job_id}" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_job_another_process_works_on_or_one_settled_keeps_its_state(tmp_path: Path) -> None:
    settings, job_id = a_job(tmp_path)
    with job_lock(job_dir(settings.data_dir, job_id), job_id):  # as if another process held it
        record_failure(settings, job_id, "not this one's business")
    assert job_state(settings, job_id) == (JobState.VALIDATING, "")
    store = Store.open(settings.sql_url_effective)
    try:
        JobStore(store).update(job_id, state=JobState.VALIDATED)
    finally:
        store.close()
    record_failure(settings, job_id, "a later refusal")
    assert job_state(settings, job_id) == (JobState.VALIDATED, "")
