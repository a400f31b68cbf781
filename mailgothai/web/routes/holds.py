"""Legal holds, the operators' own: put an account (live or deleted) or a whole domain on
hold with a reason, or release it. Held mail is never purged (services/holds.py)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.errors import InvalidInput
from mailgothai.services.registry import Services
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "hold-placed": N_("The legal hold is in place: this mail is not purged until an operator releases it."),
    "hold-released": N_("The legal hold was released: the mail is purged when its retention has passed."),
})


def hold_form(page_url: str) -> Form:
    """The hold form of the object whose page is page_url (it posts to page_url/hold)."""
    return Form(N_("Put on legal hold"), [
        Field("reason", N_("Reason for the hold"), required=True,
              help=N_("A case or order number and who asked; it is kept in the audit log."))],
        N_("Hold"), action=f"{page_url}/hold", cancel=page_url,
        intro=N_("Mail on legal hold is never purged, whatever its date, until an operator releases it."))


# What each kind of object is looked up by, its page, and its hold and release: the
# object is read first (a domain admin never gets this far: the routes are operators').
Target = tuple[str, str, Callable[[str], object], Callable[[], object]]


def _account(svc: Services, ctx: Ctx) -> Target:
    account = svc.accounts.get(ctx.request.path_params["email"])
    return (account.email, f"/accounts/{account.email}",
            lambda reason: svc.holds.hold_account(account.mailbox_id, reason),
            lambda: svc.holds.release_account(account.mailbox_id))


def _deleted(svc: Services, ctx: Ctx) -> Target:
    retained = svc.lifecycle.get_deleted(ctx.request.path_params["mailbox_id"])
    return (retained.email, f"/deleted/{retained.mailbox_id}",
            lambda reason: svc.holds.hold_account(retained.mailbox_id, reason),
            lambda: svc.holds.release_account(retained.mailbox_id))


def _domain(svc: Services, ctx: Ctx) -> Target:
    domain = svc.domains.get(ctx.request.path_params["domain"])
    return (domain.name, f"/domains/{domain.name}", lambda reason: svc.holds.hold_domain(domain.name, reason),
            lambda: svc.holds.release_domain(domain.name))


def _hold(find: Callable[[Services, Ctx], Target]) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        subject, url, hold, _ = find(ctx.services(), ctx)
        form = hold_form(url)
        if ctx.request.method == "GET":
            return ctx.render("form.html", form=form, subject=subject)
        try:
            hold(ctx.field("reason"))
        except InvalidInput as exc:
            return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=subject)
        return ctx.redirect(url, "hold-placed")
    return handler


def _release(find: Callable[[Services, Ctx], Target]) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        _, url, _, release = find(ctx.services(), ctx)
        release()
        return ctx.redirect(url, "hold-released")
    return handler


def routes() -> list[Route]:
    out = []
    for base, find in (("/accounts/{email}", _account), ("/deleted/{mailbox_id}", _deleted),
                       ("/domains/{domain}", _domain)):
        out += [page(f"{base}/hold", _hold(find), Access.OPERATOR, ("GET", "POST")),
                page(f"{base}/release", _release(find), Access.OPERATOR, ("POST",))]
    return out
