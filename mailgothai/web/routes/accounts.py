"""Accounts: a domain's list (server-side paging, sorting, prefix search incl. Thai),
search across domains, an account's page with its usage, create, edit, suspend,
activate, reset password, rename, delete (into retention: web/routes/retained.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.addresses import address_in
from mailgothai.core.models import Status
from mailgothai.core.quota import format_size
from mailgothai.errors import AlreadyExists, InvalidInput, MailGoThaiError, NotFound
from mailgothai.services.listing import ACCOUNT_SORTS, page_args
from mailgothai.services.passwords import PasswordInput
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "account-saved": N_("The account was saved."),
    "account-suspended": N_("The account is suspended: it cannot log in or receive mail."),
    "account-activated": N_("The account is active again."),
    "account-deleted": N_("The account was deleted. Its mailbox is kept until the purge date below: until then "
                          "it can be restored here, or its mail handed over."),
    "account-renamed": N_("The account has its new address; its mailbox and password stay."),
    "password-set": N_("The password was changed."),
})

PASSWORD_MODES = (("generate", N_("Generate a password (shown once)")), ("set", N_("Set this password")))


def account_list(ctx: Ctx) -> Response:
    domain = ctx.request.path_params["domain"]
    offset, size = page_args(ctx.arg("offset"), ctx.arg("limit"))
    sort = ctx.arg("sort", "address")
    descending = ctx.arg("desc") == "1"
    q = ctx.arg("q")
    dom, listing = ctx.listing().accounts(domain, sort=sort, descending=descending, search=q, offset=offset,
                                          size=size)
    readings = ctx.usage().for_accounts([a.email for a in listing.items])
    logins = ctx.services().last_login.of_many(listing.items)  # one query for the page (issue 17)
    base = f"/domains/{dom.name}/accounts?q={quote(q)}&sort={sort}&desc={'1' if descending else '0'}"
    return ctx.render("accounts.html", domain=dom, page=listing, readings=readings, logins=logins, q=q, sort=sort,
                      descending=descending, sorts=ACCOUNT_SORTS, base=base)


def search(ctx: Ctx) -> Response:
    q = ctx.arg("q").strip()
    results = ctx.services().accounts.search(q, limit=50) if q else []
    return ctx.render("search.html", q=q, results=results)


def _account_form(title: str, values: dict[str, str], new: bool, domain: str) -> Form:
    fields: list[Field] = []
    if new:
        fields.append(Field("local_part", N_("Address (before the @)"), required=True,
                            value=values.get("local_part", ""),
                            help=N_("Letters, digits and . _ - ; the domain is added")))
    fields += [
        Field("given_name", N_("Given name"), value=values.get("given_name", "")),
        Field("surname", N_("Surname"), value=values.get("surname", "")),
        Field("display_name", N_("Display name"), value=values.get("display_name", "")),
        Field("quota", N_("Quota"), value=values.get("quota", ""),
              help=N_("e.g. 2G or 500M; blank: the domain's default")),
        Field("aliases", N_("Aliases"), value=values.get("aliases", ""), help=N_("Further addresses, separated by ;")),
        Field("forward", N_("Forward to"), value=values.get("forward", ""),
              help=N_("Addresses that get a copy, separated by ;")),
    ]
    if new:
        fields += [Field("password_mode", N_("Password"), "select", value=values.get("password_mode", "generate"),
                         options=PASSWORD_MODES),
                   Field("password", N_("New password"), "password", autocomplete="new-password",
                         help=N_("It must meet the domain's password policy; used only if you chose to set it")),
                   Field("status", N_("Status"), "select", value="active",
                         options=(("active", N_("active")), ("disabled", N_("suspended"))))]
    return Form(title, fields, N_("Create account") if new else N_("Save"), cancel=f"/domains/{domain}/accounts")


def _password_input(ctx: Ctx) -> PasswordInput:
    if ctx.field("password_mode", "generate") == "set":
        return PasswordInput(plain=ctx.field("password"))
    return PasswordInput(generate=True)


def account_new(ctx: Ctx) -> Response:
    svc = ctx.services()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    form = _account_form(N_("New account"), {}, True, domain.name)
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject="@" + domain.name)
    try:
        created = svc.accounts.add(
            address_in(ctx.field("local_part"), domain.name), _password_input(ctx), given_name=ctx.field("given_name"),
            surname=ctx.field("surname"), display_name=ctx.field("display_name"), quota=ctx.field("quota") or None,
            status=ctx.field("status", "active"), aliases=ctx.field("aliases"), forwards=ctx.field("forward"))
    except MailGoThaiError as exc:
        if isinstance(exc, InvalidInput) and exc.field == "email":
            exc = InvalidInput("local_part", exc.why)
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext),
                          subject="@" + domain.name)
    if created.generated_password:
        return ctx.render("shown_once.html", title=ctx.gettext("Account created: its password"),
                          secret=created.generated_password, back=f"/accounts/{created.account.email}")
    return ctx.redirect(f"/accounts/{created.account.email}", "account-saved")


def account_detail(ctx: Ctx) -> Response:
    account = ctx.services().accounts.get(ctx.request.path_params["email"])
    reading = ctx.usage().for_accounts([account.email]).get(account.email)
    last_login = ctx.services().last_login.of(account)
    return ctx.render("account.html", account=account, reading=reading, last_login=last_login)


def account_edit(ctx: Ctx) -> Response:
    svc = ctx.services()
    account = svc.accounts.get(ctx.request.path_params["email"])
    values = {"given_name": account.given_name, "surname": account.surname, "display_name": account.display_name,
              "quota": format_size(account.quota), "aliases": "; ".join(account.aliases),
              "forward": "; ".join(account.forwards)}
    form = _account_form(N_("Edit account"), values, False, account.domain)
    form.cancel = f"/accounts/{account.email}"
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=account.email)
    try:
        svc.accounts.update(account.email, given_name=ctx.field("given_name"), surname=ctx.field("surname"),
                            display_name=ctx.field("display_name"), quota=ctx.field("quota") or None,
                            aliases=ctx.field("aliases"), forwards=ctx.field("forward"))
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=account.email)
    return ctx.redirect(f"/accounts/{account.email}", "account-saved")


def _set_status(status: Status) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        account = ctx.services().accounts.set_status(ctx.request.path_params["email"], status)
        back = ctx.field("back")
        target = back if back.startswith("/domains/") and "//" not in back else f"/accounts/{account.email}"
        return ctx.redirect(target, "account-activated" if status is Status.ACTIVE else "account-suspended")
    return handler


def account_password(ctx: Ctx) -> Response:
    svc = ctx.services()
    account = svc.accounts.get(ctx.request.path_params["email"])
    form = Form(N_("Reset the password"), [
        Field("password_mode", N_("Password"), "select", value="generate", options=PASSWORD_MODES),
        Field("password", N_("New password"), "password", autocomplete="new-password"),
        Field("must_change", N_("The user must change it at next login"), "checkbox", value="1",
              help=N_("Until then the account cannot read or send mail; untick it for a password the user "
                      "keeps.")),
    ], N_("Reset password"), cancel=f"/accounts/{account.email}",
        intro=N_("A reset takes the account back: its app passwords and its recovery address are removed, and "
                 "its open sessions end."))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=account.email)
    must_change = bool(ctx.field("must_change"))  # issue 20: an unticked checkbox is not sent
    try:
        generated = svc.accounts.set_password(account.email, _password_input(ctx), must_change=must_change)
    except MailGoThaiError as exc:
        form = form.filled(ctx.form).fail(exc, ctx.gettext)
        form.fields = [dataclasses.replace(f, value="1" if must_change else "") if f.name == "must_change" else f
                       for f in form.fields]
        return ctx.render("form.html", 400, form=form, subject=account.email)
    if generated:
        return ctx.render("shown_once.html", title=ctx.gettext("The new password"), secret=generated,
                          back=f"/accounts/{account.email}")
    return ctx.redirect(f"/accounts/{account.email}", "password-set")


def account_delete(ctx: Ctx) -> Response:
    svc = ctx.services()
    account = svc.accounts.get(ctx.request.path_params["email"])
    days = svc.domains.get(account.domain).limits.retention_days
    intro = N_("The account can no longer log in or receive mail, and its address is free for a new account. "
               "Its mailbox is kept for %(days)s days: until then the account can be restored, or its mail "
               "handed over to a successor.") if days else \
        N_("The account can no longer log in or receive mail, and its address is free for a new account. "
           "Its domain keeps deleted accounts 0 days: the mailbox is removed at the next purge, and until then "
           "the account can be restored.")
    form = Form(N_("Delete the account"), [], N_("Delete the account"), cancel=f"/accounts/{account.email}",
                danger=True, intro=intro, intro_values={"days": days} if days else {})
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=account.email)
    kept = svc.accounts.delete(account.email)
    return ctx.redirect(f"/deleted/{kept.mailbox_id}", "account-deleted")


def account_rename(ctx: Ctx) -> Response:
    svc = ctx.services()
    account = svc.accounts.get(ctx.request.path_params["email"])
    form = Form(N_("Rename the account"), [
        Field("new_address", N_("New address"), required=True, value=account.email,
              help=N_("A whole address of a domain you manage; it may be one of the account's aliases")),
        Field("keep_old_as_alias", N_("Keep the old address as an alias (mail to it still arrives)"), "checkbox"),
    ], N_("Rename"), cancel=f"/accounts/{account.email}",
        intro=N_("The mailbox, password, quota, aliases and forwards stay with the account. Aliases that deliver "
                 "to the old address deliver to the new one."))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=account.email)
    try:
        renamed = svc.lifecycle.rename(account.email, ctx.field("new_address"),
                                       keep_old_as_alias=bool(ctx.field("keep_old_as_alias")))
    except (InvalidInput, AlreadyExists, NotFound) as exc:  # NotFound: the new domain is not one of the admin's
        return ctx.render("form.html", 409 if isinstance(exc, AlreadyExists) else 400,
                          form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=account.email)
    return ctx.redirect(f"/accounts/{renamed.email}", "account-renamed")


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/accounts", account_list, Access.ADMIN),
        page("/domains/{domain}/accounts/new", account_new, Access.ADMIN, ("GET", "POST")),
        page("/search", search, Access.ADMIN),
        page("/accounts/{email}", account_detail, Access.ADMIN),
        page("/accounts/{email}/edit", account_edit, Access.ADMIN, ("GET", "POST")),
        page("/accounts/{email}/suspend", _set_status(Status.DISABLED), Access.ADMIN, ("POST",)),
        page("/accounts/{email}/activate", _set_status(Status.ACTIVE), Access.ADMIN, ("POST",)),
        page("/accounts/{email}/password", account_password, Access.ADMIN, ("GET", "POST")),
        page("/accounts/{email}/rename", account_rename, Access.ADMIN, ("GET", "POST")),
        page("/accounts/{email}/delete", account_delete, Access.ADMIN, ("GET", "POST")),
    ]
