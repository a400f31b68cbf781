"""Running an import job's validation or its apply in a thread of this process (the web
and the API start them; their pages poll `ImportService.job_status`).

A job records its own failures as it goes (imports.py, import_validation.py). A failure
before that — the backends cannot be opened, the directory is unreachable while a file is
validated — would leave the job saying "validating" or "applying" with nobody working on
it: the runner then records it on the job (state failed, the reason) and logs it.
"""

from __future__ import annotations

import logging
import threading

from mailgothai.errors import InvalidInput
from mailgothai.services.actor import Actor
from mailgothai.services.import_files import job_dir, job_lock
from mailgothai.services.import_jobs import claim_thread, release_thread
from mailgothai.services.imports import ImportService
from mailgothai.settings import Settings
from mailgothai.store import Store
from mailgothai.store.jobs import JobState, JobStore

log = logging.getLogger("mailgothai.imports")
STAGES = ("validate", "apply")
MAX_ERROR = 500  # characters of a reason kept on a job or logged


def start_in_background(settings: Settings, actor: Actor, job_id: int, stage: str = "apply") -> threading.Thread:
    """Validate ("validate") or apply ("apply", also resumes) a job in a thread of this
    process, with its own connections; poll ImportService.job_status for progress."""
    from mailgothai.services.registry import Services

    if stage not in STAGES:
        raise ValueError(f"stage must be 'validate' or 'apply', not {stage!r}")

    def work() -> None:
        try:
            with Services.open(settings, actor) as services:
                service = ImportService(services.backends, actor)
                (service.validate if stage == "validate" else service.apply)(job_id)
        except InvalidInput as exc:  # a refused file or job: expected, the job says why; no traceback
            log.warning("import job %s: %s refused: %s", job_id, stage, _shown(str(exc)))
            record_failure(settings, job_id, str(exc) or type(exc).__name__)
        except Exception as exc:  # recorded on the job and logged, never lost
            log.error("import job %s: %s failed: %s", job_id, stage, _shown(str(exc)), exc_info=True)
            record_failure(settings, job_id, str(exc) or type(exc).__name__)
        finally:
            release_thread(job_id)

    thread = threading.Thread(target=work, name=f"import-{job_id}", daemon=True)
    claim_thread(job_id, thread)
    thread.start()
    return thread


def _shown(text: str) -> str:
    """A reason as logged: cut to MAX_ERROR characters."""
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"


def record_failure(settings: Settings, job_id: int, reason: str) -> None:
    """Mark job `job_id` failed with `reason` if it is left in progress with nobody working
    on it. A job another process holds is that process's business; one that has settled
    (validated, done, or failed with its own reason) keeps what it recorded."""
    try:
        with job_lock(job_dir(settings.data_dir, job_id), job_id):
            store = Store.open(settings.sql_url_effective)
            try:
                jobs = JobStore(store)
                if jobs.get(job_id).state in (JobState.VALIDATING, JobState.APPLYING):
                    jobs.update(job_id, state=JobState.FAILED, error=_shown(reason))
            finally:
                store.close()
    except InvalidInput:  # job_lock: another process works on the job and records its outcome
        log.info("import job %s is being worked on by another process", job_id)
    except Exception:  # e.g. the SQL store is what failed: the log has both
        log.error("import job %s: its failure could not be recorded on the job", job_id, exc_info=True)
