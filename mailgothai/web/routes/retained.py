"""Deleted accounts kept for their domain's retention period: a domain's list, one deleted
account with its restore and handover forms, and the operators' purge page."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.models import RetainedAccount
from mailgothai.errors import AlreadyExists, InvalidInput, NotFound
from mailgothai.services.listing import Page, page_args
from mailgothai.services.purge import PurgeReport
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "account-restored": N_("The account was restored with its mailbox."),
    "account-restored-aliases-dropped": N_(
        "The account was restored with its mailbox. Some of its aliases were taken by others meanwhile and "
        "were not restored; its aliases are listed below."),
})


def deleted_list(ctx: Ctx) -> Response:
    svc = ctx.services()
    kept = svc.lifecycle.deleted(ctx.request.path_params["domain"])  # NotFound outside the admin's domains
    name = normalize_domain(ctx.request.path_params["domain"])
    try:
        domain = svc.domains.get(name)
    except NotFound:  # an operator looking at the deleted accounts of a deleted domain
        domain = None
    offset, size = page_args(ctx.arg("offset"), ctx.arg("limit"))
    shown: Page[RetainedAccount] = Page(tuple(kept[offset:offset + size]), offset, size, len(kept))
    return ctx.render("deleted.html", name=name, domain=domain, page=shown, base=f"/domains/{name}/deleted?")


def _restore_form(retained: RetainedAccount) -> Form:
    return Form(N_("Restore the account"), [
        Field("as", N_("Restore under another address (optional)"),
              help=N_("Blank: its own address. Otherwise the part before the @, or a whole address of the "
                      "same domain."))],
        N_("Restore"), action=f"/deleted/{retained.mailbox_id}/restore", cancel=f"/deleted/{retained.mailbox_id}",
        intro=N_("The account comes back with its mailbox, password, quota and the aliases nobody took "
                 "meanwhile."))


def _handover_form(retained: RetainedAccount) -> Form:
    return Form(N_("Hand the mail over to a successor"), [
        Field("to", N_("Successor's address"), required=True,
              help=N_("An account of a domain you manage, e.g. the person who takes over the work."))],
        N_("Hand over the mail"), action=f"/deleted/{retained.mailbox_id}/handover",
        cancel=f"/deleted/{retained.mailbox_id}",
        intro=N_("A copy of all its mail goes into a folder Archive/<old address> of the successor's mailbox. "
                 "Nothing else (password, aliases) goes with it; the deleted account keeps its own copy until "
                 "its purge."))


def _detail(ctx: Ctx, retained: RetainedAccount, status: int = 200, **values: object) -> Response:
    forms = {"restore": _restore_form(retained), "handover": _handover_form(retained)}
    return ctx.render("deleted_account.html", status, retained=retained, forms=forms, **values)


def deleted_detail(ctx: Ctx) -> Response:
    return _detail(ctx, ctx.services().lifecycle.get_deleted(ctx.request.path_params["mailbox_id"]))


def _as_address(value: str, domain: str) -> str | None:
    """The restore form's address: blank (its own), a local part, or a whole address."""
    value = value.strip()
    if not value:
        return None
    return value if "@" in value else f"{value}@{domain}"


def restore(ctx: Ctx) -> Response:
    svc = ctx.services()
    retained = svc.lifecycle.get_deleted(ctx.request.path_params["mailbox_id"])
    form = _restore_form(retained)
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=retained.email)
    try:
        done = svc.lifecycle.restore(retained.mailbox_id, _as_address(ctx.field("as"), retained.domain))
    except (InvalidInput, AlreadyExists) as exc:
        status = 409 if isinstance(exc, AlreadyExists) else 400
        return ctx.render("form.html", status, form=form.filled(ctx.form).fail(exc, ctx.gettext),
                          subject=retained.email)
    notice = "account-restored-aliases-dropped" if done.dropped_aliases else "account-restored"
    return ctx.redirect(f"/accounts/{done.account.email}", notice)


def handover(ctx: Ctx) -> Response:
    svc = ctx.services()
    retained = svc.lifecycle.get_deleted(ctx.request.path_params["mailbox_id"])
    form = _handover_form(retained)
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=retained.email)
    try:
        done = svc.lifecycle.handover(retained.mailbox_id, ctx.field("to"))
    except (InvalidInput, NotFound) as exc:  # e.g. no such successor among the admin's accounts
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext),
                          subject=retained.email)
    # Shown at once, not after a redirect: the folder and the count are this copy's.
    return _detail(ctx, done.retained, handed_over=done)


def purge(ctx: Ctx) -> Response:
    report: PurgeReport = ctx.services().purge.run(dry_run=ctx.request.method == "GET")
    held = [k for k in report.kept if k.retained.purge_after <= report.at]  # due, but kept by a hold
    return ctx.render("purge.html", report=report, held=held)


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/deleted", deleted_list, Access.ADMIN),
        page("/deleted/{mailbox_id}", deleted_detail, Access.ADMIN),
        page("/deleted/{mailbox_id}/restore", restore, Access.ADMIN, ("GET", "POST")),
        page("/deleted/{mailbox_id}/handover", handover, Access.ADMIN, ("GET", "POST")),
        page("/purge", purge, Access.OPERATOR, ("GET", "POST")),
    ]
