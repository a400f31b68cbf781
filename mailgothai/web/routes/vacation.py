"""Out-of-office replies on the web (issue 17): a mail user's own at /me/vacation, and a
domain admin's (or an operator's) for an account at /accounts/{email}/vacation, beside the
account's forward (a leaver's mail: a reply to senders, a copy to a colleague). Set and
turned off through services/vacation.py."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.models import Account
from mailgothai.core.vacation import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS
from mailgothai.errors import MailGoThaiError
from mailgothai.services.vacation import VacationService, VacationState
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES["vacation-set"] = N_("The out-of-office reply was saved.")
NOTICES["vacation-off"] = N_("The out-of-office reply was turned off.")
FIELDS = ("subject", "message", "start", "end", "reply_days")


def _form(base: str, state: VacationState) -> Form:
    v = state.vacation
    return Form(N_("Out-of-office reply"), [
        Field("subject", N_("Subject"), value=v.subject if v else "", required=True,
              help=N_("Thai or English, one line")),
        Field("message", N_("Message"), "textarea", value=v.message if v else "", required=True),
        Field("start", N_("First day"), "date", value=v.start.isoformat() if v and v.start else "",
              help=N_("Empty: from now. Days are days in Thailand.")),
        Field("end", N_("Last day"), "date", value=v.end.isoformat() if v and v.end else "",
              help=N_("Empty: until it is turned off")),
        Field("reply_days", N_("Reply to each sender once every (days)"), "number",
              value=str(v.days if v else DEFAULT_DAYS), help=N_("From 1 to 30")),
    ], N_("Save the reply"), action=base)


def _show(ctx: Ctx, service: VacationService, email: str, base: str, *, own: bool, status: int = 200,
          form: Form | None = None, account: Account | None = None) -> Response:
    state = service.show(email)
    return ctx.render("vacation.html", status, state=state, form=form or _form(base, state), base=base, own=own,
                      account=account, min_days=MIN_DAYS, max_days=MAX_DAYS)


def _save(ctx: Ctx, service: VacationService, email: str, base: str, *, own: bool,
          account: Account | None = None) -> Response:
    try:
        service.set(email, subject=ctx.field("subject"), message=ctx.field("message"), start=ctx.field("start"),
                    end=ctx.field("end"), days=ctx.field("reply_days"))
    except MailGoThaiError as exc:
        form = _form(base, service.show(email)).filled({name: ctx.field(name) for name in FIELDS})
        return _show(ctx, service, email, base, own=own, status=400, form=form.fail(exc, ctx.gettext),
                     account=account)
    return ctx.redirect(base, "vacation-set")


def my_vacation(ctx: Ctx) -> Response:
    service = VacationService.of_user(ctx.state.backends, ctx.user_email)
    if ctx.request.method == "POST":
        return _save(ctx, service, ctx.user_email, "/me/vacation", own=True)
    return _show(ctx, service, ctx.user_email, "/me/vacation", own=True)


def my_vacation_off(ctx: Ctx) -> Response:
    VacationService.of_user(ctx.state.backends, ctx.user_email).off(ctx.user_email)
    return ctx.redirect("/me/vacation", "vacation-off")


def account_vacation(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    services = ctx.services()
    base = f"/accounts/{email}/vacation"
    account = services.accounts.get(email)  # NotFound outside the admin's domains
    if ctx.request.method == "POST":
        return _save(ctx, services.vacation, email, base, own=False, account=account)
    return _show(ctx, services.vacation, email, base, own=False, account=account)


def account_vacation_off(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    ctx.services().vacation.off(email)
    return ctx.redirect(f"/accounts/{email}/vacation", "vacation-off")


def routes() -> list[Route]:
    return [
        page("/me/vacation", my_vacation, Access.USER, ("GET", "POST")),
        page("/me/vacation/off", my_vacation_off, Access.USER, ("POST",)),
        page("/accounts/{email}/vacation", account_vacation, Access.ADMIN, ("GET", "POST")),
        page("/accounts/{email}/vacation/off", account_vacation_off, Access.ADMIN, ("POST",)),
    ]
