"""CSV import and export pages. Import: upload → validation summary and bad rows →
confirm → live progress → result file (deleted from the job page once the passwords
are handed out). Every step calls services/imports.py (the same
service as the CLI); the long steps run in a background thread and the page polls
/imports/status.

Jobs are named by a query parameter (?id=N): a domain admin sees only its own jobs
(another's answers "not found"), and the rows it imports are held to its domains by the
service and by slapd alike.

Export: /domains/{domain}/export streams the domain's accounts in the import format
(services/exports.py), read as the admin itself, a page at a time.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mailgothai.core.reasons import Reason
from mailgothai.errors import NotFound
from mailgothai.services.exports import ExportService
from mailgothai.services.import_runner import start_in_background
from mailgothai.services.imports import ImportService, JobSummary
from mailgothai.store.jobs import JobState
from mailgothai.web.bodylimit import BodyTooLarge
from mailgothai.web.context import (
    NOTICES,
    PRELOGIN_COOKIE,
    Access,
    Ctx,
    _admit,
    _run,
    apply_cookies,
    page,
)
from mailgothai.web.i18n import LANG_COOKIE, N_, negotiate
from mailgothai.web.messages import field_label

BAD_ROWS_SHOWN = 200

NOTICES.update({
    "import-confirmed": N_("The import is running. This page follows it."),
    "import-result-deleted": N_("The result file is deleted: its passwords can no longer be downloaded."),
})


def _service(ctx: Ctx) -> ImportService:
    return ImportService(ctx.services().backends, ctx.actor)


def _job_id(_ctx: Ctx, value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 12 else None


def _list(ctx: Ctx, status: int = 200, error: str = "") -> Response:
    jobs = [_service(ctx).job_status(j.id) for j in _service(ctx).list_jobs(20)]
    return ctx.render("imports.html", status, jobs=jobs, error=error)


def imports_page(ctx: Ctx) -> Response:
    return _list(ctx)


def _progress(summary: JobSummary) -> dict[str, object]:
    job = summary.job
    applied = summary.created + summary.updated + summary.failed
    total = summary.to_create + summary.to_update
    applying = job.state is JobState.APPLYING or (job.state is JobState.DONE and total)
    fraction = (applied / total if total else 1.0) if applying else None
    return {"id": job.id, "state": job.state.value, "running": summary.running, "rows": summary.rows,
            "to_create": summary.to_create, "to_update": summary.to_update, "unchanged": summary.unchanged,
            "rejected": summary.rejected, "created": summary.created, "updated": summary.updated,
            "failed": summary.failed, "pending": summary.pending, "fraction": fraction}


def _said(why: Reason | None, english: str, ctx: Ctx) -> str:
    """A stored reason in the page's language (a row kept before reasons had codes: as stored)."""
    return why.render(ctx.gettext) if why is not None else english


def job_page(ctx: Ctx) -> Response:
    job_id = _job_id(ctx, ctx.arg("id"))
    if job_id is None:
        return _list(ctx, 400, ctx.gettext("Choose an import from the list."))
    service = _service(ctx)
    summary = service.job_status(job_id)
    bad = service.rows(job_id, only_bad=True, limit=BAD_ROWS_SHOWN)
    shown = [(r, field_label(r.column, ctx.gettext) if r.column else "", _said(r.why, r.reason, ctx))
             for r in bad]
    field, _, reason = summary.job.error.partition(": ")  # a file refused whole: "field: reason"
    error = (f"{field_label(field, ctx.gettext)}: {_said(summary.job.error_why, reason, ctx)}" if reason
             else summary.job.error)
    return ctx.render("import_job.html", s=summary, job=summary.job, bad=shown, progress=_progress(summary),
                      has_result=service.result_file(job_id) is not None, shown_limit=BAD_ROWS_SHOWN, error=error)


def job_status(ctx: Ctx) -> Response:
    job_id = _job_id(ctx, ctx.arg("id"))
    if job_id is None:
        return _list(ctx, 400, ctx.gettext("Choose an import from the list."))
    return JSONResponse(_progress(_service(ctx).job_status(job_id)), headers={"Cache-Control": "no-store"})


def csv_attachment(chunks: Iterable[str], filename: str) -> StreamingResponse:
    """A CSV download (UTF-8), streamed chunk by chunk; also used by the API."""
    return StreamingResponse((chunk.encode("utf-8") for chunk in chunks), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                      "Cache-Control": "no-store"})


def report_attachment(service: ImportService, job_id: int) -> StreamingResponse:
    """A job's bad rows as a CSV download (with a BOM: Excel then reads it as UTF-8)."""
    service.get_job(job_id)
    buffer = io.StringIO()
    buffer.write("\ufeff")
    service.write_report(job_id, buffer)
    return csv_attachment([buffer.getvalue()], f"import-{job_id}-bad-rows.csv")


def result_attachment(service: ImportService, job_id: int) -> FileResponse:
    """A finished job's result file (generated passwords in it: never cached)."""
    path = service.result_file(job_id)
    if path is None:
        raise NotFound("result file of import job", str(job_id))
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"import-{job_id}-result.csv",
                        headers={"Cache-Control": "no-store"})


def export_attachment(service: ExportService, domain: str | None) -> StreamingResponse:
    """One domain (or all the actor manages) in the import format; rights are checked
    before the first byte, so a refusal is an error page, not a cut-off file."""
    names = service.domains(domain)
    return csv_attachment(service.stream(names), f"accounts-{names[0] if domain is not None else 'all'}.csv")


def report(ctx: Ctx) -> Response:
    job_id = _job_id(ctx, ctx.arg("id"))
    if job_id is None:
        return _list(ctx, 400, ctx.gettext("Choose an import from the list."))
    return report_attachment(_service(ctx), job_id)


def result(ctx: Ctx) -> Response:
    job_id = _job_id(ctx, ctx.arg("id"))
    if job_id is None:
        return _list(ctx, 400, ctx.gettext("Choose an import from the list."))
    return result_attachment(_service(ctx), job_id)


def confirm(ctx: Ctx) -> Response:
    job_id = _job_id(ctx, ctx.field("id"))
    if job_id is None:
        return _list(ctx, 400, ctx.gettext("Choose an import from the list."))
    job = _service(ctx).get_job(job_id)
    if job.state is not JobState.DONE:
        start_in_background(ctx.state.settings, ctx.actor, job_id, "apply")
    return ctx.redirect(f"/imports/job?id={job_id}", "import-confirmed")


def discard_result(ctx: Ctx) -> Response:
    """Delete a job's result file (the generated passwords) once the admin has it: the
    service method the API's DELETE /imports/{id}/result calls."""
    job_id = _job_id(ctx, ctx.field("id"))
    if job_id is None:
        return _list(ctx, 400, ctx.gettext("Choose an import from the list."))
    _service(ctx).discard_result(job_id)
    return ctx.redirect(f"/imports/job?id={job_id}", "import-result-deleted")


def _upload(ctx: Ctx, upload: UploadFile | None) -> Response:
    if upload is None or not upload.filename:
        return _list(ctx, 400, ctx.gettext("Choose a file to upload."))
    folder = ctx.state.settings.data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".csv", dir=folder)  # 0600
    try:
        with os.fdopen(fd, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out)
        service = _service(ctx)
        job = service.start_job(Path(name), file_name=Path(upload.filename).name[:200], keep_copy=True,
                                encoding=ctx.form.get("encoding") or None,
                                must_change=ctx.form.get("must_change") == "1")  # issue 20
    finally:
        Path(name).unlink(missing_ok=True)
    start_in_background(ctx.state.settings, ctx.actor, job.id, "validate")
    return ctx.redirect(f"/imports/job?id={job.id}")


def upload_route() -> Route:
    """POST /imports: the generic page() reads forms without files; this one takes one CSV
    file (at most `web_max_upload` bytes, web/bodylimit.py), read only once the session and
    access are checked, then runs the same CSRF check and error pages."""

    async def endpoint(request: Request) -> Response:
        state = request.app.state.web
        ctx = Ctx(request, state, negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")))
        ctx.prelogin = request.cookies.get(PRELOGIN_COOKIE, "") or secrets.token_urlsafe(24)
        denied = await run_in_threadpool(_admit, ctx, Access.ADMIN)
        if denied is not None:
            return apply_cookies(ctx, denied)
        form = None
        upload: UploadFile | None = None
        try:
            form = await request.form(max_files=1, max_fields=10)
        except BodyTooLarge:
            raise  # answered 413 by web/bodylimit.py
        except Exception:  # noqa: BLE001 - a malformed body: an empty form (CSRF then refuses it)
            form = None
        if form is not None:
            ctx.form = {k: v for k, v in form.items() if isinstance(v, str)}
            candidate = form.get("file")
            upload = candidate if isinstance(candidate, UploadFile) else None
        try:
            response = await run_in_threadpool(_run, ctx, lambda c: _upload(c, upload), None, True)
        finally:
            if form is not None:
                await form.close()
        return apply_cookies(ctx, response)

    route = Route("/imports", endpoint, methods=["POST"])
    route.access = Access.ADMIN  # type: ignore[attr-defined]
    return route


def export(ctx: Ctx) -> Response:
    return export_attachment(ExportService(ctx._backends(), ctx.actor), ctx.request.path_params["domain"])


def routes() -> list[Route]:
    return [
        page("/imports", imports_page, Access.ADMIN),
        upload_route(),
        page("/imports/job", job_page, Access.ADMIN),
        page("/imports/status", job_status, Access.ADMIN),
        page("/imports/report", report, Access.ADMIN),
        page("/imports/result", result, Access.ADMIN),
        page("/imports/apply", confirm, Access.ADMIN, methods=("POST",)),
        page("/imports/result/delete", discard_result, Access.ADMIN, methods=("POST",)),
        page("/domains/{domain}/export", export, Access.ADMIN),
    ]

