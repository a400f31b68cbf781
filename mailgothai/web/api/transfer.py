"""CSV import and export over /api/v1, through the same services as the CLI and the pages:

    POST   /imports                   the CSV file as the body (text/csv) → 202, the job; it is
                                      validated in the background (a dry run: nothing written)
    GET    /imports                   the token's jobs (an operator's: everyone's)
    GET    /imports/{job_id}          state and counts; poll it for progress
    GET    /imports/{job_id}/rows     the bad rows as JSON (row, email, column, reason), paged
    GET    /imports/{job_id}/report   the bad rows as CSV
    POST   /imports/{job_id}/apply    confirm: write the valid rows (also resumes) → 202
    GET    /imports/{job_id}/result   the result file (generated passwords: fetch, then DELETE)
    DELETE /imports/{job_id}/result
    POST   /domain-imports            an operator's domains file → the outcome of each row
    GET    /domains/{domain}/export   one domain, streamed as CSV in the import format
    GET    /export                    every domain the token manages, streamed

A domain admin's token sees only its own jobs (another's answers 404) and imports only
into its domains (a row for another domain is a bad row)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.exports import ExportService
from mailgothai.services.import_runner import start_in_background
from mailgothai.services.imports import ImportService, JobSummary, existing_result
from mailgothai.store.jobs import JobState
from mailgothai.web.api.common import ApiCtx, Problem, authenticated, endpoint, invalid_input, problem_for
from mailgothai.web.api.routing import by_path
from mailgothai.web.context import Access
from mailgothai.web.imports import export_attachment, report_attachment, result_attachment
from mailgothai.web.state import WebState

P = "/api/v1"
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")
MAX_JOB_ID = 2**31 - 1  # the id column's range (PostgreSQL integer)
ROWS_PAGE = 100
ROWS_MAX = 1000


def _job_id(c: ApiCtx) -> int:
    value = c.path("job_id")
    if not value.isdigit():
        raise InvalidInput("job_id", Why.NOT_A_JOB_ID())
    if int(value) > MAX_JOB_ID:  # a whole number, as the document says, that no job has
        raise NotFound("import job", value)
    return int(value)


def _whole(c: ApiCtx, name: str, default: int, top: int) -> int:
    value = c.query(name, str(default))
    if not value.isdigit() or int(value) > top:
        raise InvalidInput(name, Why.NOT_IN_RANGE_FROM_ZERO(high=top))
    return int(value)


def _imports(c: ApiCtx) -> ImportService:
    return ImportService(c.services().backends, c.actor)


def job_json(s: JobSummary) -> dict[str, Any]:
    job = s.job
    result_available = existing_result(job) is not None
    return {
        "id": job.id, "state": job.state.value, "running": s.running, "file_name": job.file_name,
        "encoding": job.encoding or None, "delimiter": job.delimiter or None,
        "unknown_columns": list(job.unknown_columns), "error": job.error or None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "rows": s.rows, "to_create": s.to_create, "to_update": s.to_update, "unchanged": s.unchanged,
        "rejected": s.rejected, "blank": s.blank, "created": s.created, "updated": s.updated, "failed": s.failed,
        "pending": s.pending, "result_available": result_available,
    }


def _job(service: ImportService, job_id: int) -> dict[str, Any]:
    return job_json(service.job_status(job_id))


# ---- handlers (JSON) ------------------------------------------------------------------
def imports_list(c: ApiCtx) -> Any:
    service = _imports(c)
    limit = _whole(c, "limit", 50, 500)
    return {"items": [_job(service, j.id) for j in service.list_jobs(limit)]}


def import_get(c: ApiCtx) -> Any:
    return _job(_imports(c), _job_id(c))


def import_rows(c: ApiCtx) -> Any:
    service = _imports(c)
    after, limit = _whole(c, "after", 0, MAX_JOB_ID), max(1, _whole(c, "limit", ROWS_PAGE, ROWS_MAX))
    rows = service.rows(_job_id(c), only_bad=True, after_row=after, limit=limit)
    return {"items": [{"row": r.row, "email": r.email, "column": r.column or None, "reason": r.reason,
                       "state": r.state} for r in rows],
            "next_after": rows[-1].row if len(rows) == limit else None}


def import_apply(c: ApiCtx) -> Any:
    service, job_id = _imports(c), _job_id(c)
    job = service.get_job(job_id)
    if job.state is not JobState.DONE:
        start_in_background(c.state.settings, c.actor, job_id, "apply")
    return _job(service, job_id)


def import_discard_result(c: ApiCtx) -> Any:
    service, job_id = _imports(c), _job_id(c)
    if service.result_file(job_id) is None:
        raise NotFound("result file of import job", str(job_id))
    service.discard_result(job_id)


# ---- handlers (CSV out) -----------------------------------------------------------------
def import_report(c: ApiCtx) -> Any:
    return report_attachment(_imports(c), _job_id(c))


def import_result(c: ApiCtx) -> Any:
    return result_attachment(_imports(c), _job_id(c))


def _export(c: ApiCtx, domain: str | None) -> Response:
    # Read as the admin itself: slapd's rules hold a domain admin to its domains here too.
    return export_attachment(ExportService(c._backends(), c.actor), domain)


def export_domain(c: ApiCtx) -> Any:
    return _export(c, c.path("domain"))


def export_all(c: ApiCtx) -> Any:
    return _export(c, None)


# ---- handlers (CSV in) ------------------------------------------------------------------
def import_upload(c: ApiCtx, path: Path) -> Any:
    name = (c.query("file_name") or "upload.csv").strip()
    if len(name) > 200 or any(ord(ch) < 32 for ch in name) or "/" in name or "\\" in name:
        raise InvalidInput("file_name", Why.NOT_A_FILE_NAME())
    must_change = c.query("must_change", "false")  # issue 20: "change at next login" for the whole job
    if must_change not in ("true", "false"):
        raise InvalidInput("must_change", Why.NOT_A_BOOLEAN())
    service = _imports(c)
    job = service.start_job(path, file_name=name, keep_copy=True, encoding=c.query("encoding") or None,
                            must_change=must_change == "true")
    start_in_background(c.state.settings, c.actor, job.id, "validate")
    return _job(service, job.id)


def domain_import(c: ApiCtx, path: Path) -> Any:
    summary = _imports(c).import_domains(path)
    return {"rows": summary.rows, "created": summary.created, "updated": summary.updated,
            "unchanged": summary.unchanged, "unknown_columns": list(summary.unknown_columns),
            "rejected": [{"row": r.row, "domain": r.email or None, "column": r.column or None, "reason": r.reason}
                         for r in summary.bad]}


# ---- the upload route ---------------------------------------------------------------------
UploadHandler = Callable[[ApiCtx, Path], Any]


def upload_endpoint(path: str, handler: UploadHandler, status: int) -> Route:
    """A route that takes a CSV file as the request body: the token is checked before a
    byte of the body is read; the body goes to an owner-only file under the data dir, at
    most `web_max_upload` bytes (also capped as it streams: web/bodylimit.py); the handler
    gets that file."""

    async def run(request: Request) -> Response:
        started = time.perf_counter()
        state: WebState = request.app.state.web
        try:
            admin = await run_in_threadpool(authenticated, request, state)
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media not in CSV_TYPES:
                raise Problem(415, "Unsupported media type", "send the CSV file as the body, as text/csv",
                              kind="unsupported-media-type")
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > state.settings.web_max_upload:
                raise Problem(413, "Request body too large", f"at most {state.settings.web_max_upload} bytes",
                              kind="too-large")
            upload = await _receive(request, state)
            try:
                ctx = ApiCtx(request, state, admin)
                response = await run_in_threadpool(_answer, handler, ctx, upload, status)
            finally:
                upload.unlink(missing_ok=True)
        except Problem as exc:
            response = exc.response()
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    route = Route(path, run, methods=["POST"])
    route.access = Access.API  # type: ignore[attr-defined]
    return route


async def _receive(request: Request, state: WebState) -> Path:
    folder = state.settings.data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".csv", dir=folder)  # 0600
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > state.settings.web_max_upload:
                    raise Problem(413, "Request body too large", f"at most {state.settings.web_max_upload} bytes",
                                  kind="too-large")
                out.write(chunk)
        if size == 0:
            raise invalid_input([("file", Why.BODY_EMPTY_CSV())])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _answer(handler: UploadHandler, ctx: ApiCtx, upload: Path, status: int) -> Response:
    try:
        return JSONResponse(handler(ctx, upload), status_code=status)
    except Exception as exc:  # noqa: BLE001 - mapped to a problem, or re-raised if not ours
        return problem_for(exc).response()


def routes() -> list[Route]:
    return by_path([
        upload_endpoint(f"{P}/imports", import_upload, 202),
        endpoint(f"{P}/imports", imports_list, "GET"),
        endpoint(f"{P}/imports/{{job_id}}", import_get, "GET"),
        endpoint(f"{P}/imports/{{job_id}}/rows", import_rows, "GET"),
        endpoint(f"{P}/imports/{{job_id}}/report", import_report, "GET"),
        endpoint(f"{P}/imports/{{job_id}}/apply", import_apply, "POST", body=frozenset(), status=202),
        endpoint(f"{P}/imports/{{job_id}}/result", import_result, "GET"),
        endpoint(f"{P}/imports/{{job_id}}/result", import_discard_result, "DELETE"),
        upload_endpoint(f"{P}/domain-imports", domain_import, 200),
        endpoint(f"{P}/domains/{{domain}}/export", export_domain, "GET"),
        endpoint(f"{P}/export", export_all, "GET"),
    ])
