"""Domains: the list (search, paging), a domain's page (limits, retention, usage, admins,
DKIM), and the operators' actions: create, set limits, suspend/activate, delete, appoint
admins. (Its deleted accounts: web/routes/retained.py; legal holds: web/routes/holds.py.)"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.models import Role, Status
from mailgothai.core.quota import format_size
from mailgothai.core.reasons import Why
from mailgothai.core.retention import DEFAULT_RETENTION_DAYS
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.listing import page_args
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "domain-created": N_("The domain was created."),
    "domain-saved": N_("The domain's limits were saved."),
    "domain-suspended": N_("The domain is suspended: nobody in it can log in or receive mail."),
    "domain-activated": N_("The domain is active again."),
    "domain-deleted": N_("The domain was deleted."),
    "usage-queued": N_("Fresh usage readings were requested; they appear within minutes."),
    "admin-appointed": N_("The administrator now manages this domain."),
    "admin-removed": N_("The administrator no longer manages this domain."),
})

LIMIT_FIELDS = (
    ("max_accounts", N_("Maximum accounts"), N_("0 = no limit")),
    ("quota_pool", N_("Quota pool"), N_("The quotas of all accounts together, e.g. 500G; 0 = no limit")),
    ("default_quota", N_("Default quota"), N_("Given to a new account that names none, e.g. 2G")),
    ("max_message_size", N_("Maximum message size"), N_("e.g. 25M")),
    ("hourly_send_limit", N_("Hourly send limit"), N_("Recipients one account may send to per hour")),
    ("retention_days", N_("Keep deleted accounts (days)"),
     N_("A deleted account's mailbox is kept this long, restorable, then purged; 0 to 3650. "
        "A change applies to accounts deleted from then on.")),
)


def domain_list(ctx: Ctx) -> Response:
    offset, size = page_args(ctx.arg("offset"), ctx.arg("limit"))
    q = ctx.arg("q")
    listing = ctx.listing().domains(search=q, offset=offset, size=size)
    usage = ctx.usage().all_totals() if listing.items else {}
    return ctx.render("domains.html", page=listing, usage=usage, q=q, base=f"/domains?q={quote(q)}")


def _limit_form(title: str, submit: str, values: dict[str, str], with_name: bool) -> Form:
    fields = [Field("name", N_("Domain name"), required=True, value=values.get("name", ""),
                    help=N_("e.g. moph.go.th; Thai domain names are accepted"))] if with_name else []
    fields.append(Field("description", N_("Description"), value=values.get("description", ""),
                        help=N_("The agency's name, in Thai or English")))
    fields += [Field(name, label, value=values.get(name, ""), help=help_) for name, label, help_ in LIMIT_FIELDS]
    return Form(title, fields, submit)


def domain_new(ctx: Ctx) -> Response:
    defaults = {"default_quota": "1G", "max_message_size": "25M", "hourly_send_limit": "500", "max_accounts": "0",
                "quota_pool": "0", "retention_days": str(DEFAULT_RETENTION_DAYS)}
    form = _limit_form(N_("New domain"), N_("Create domain"), defaults, with_name=True)
    form.cancel = "/domains"
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    limits = {name: ctx.field(name) or None for name, _, _ in LIMIT_FIELDS}
    try:
        domain = ctx.services().domains.add(ctx.field("name"), description=ctx.field("description"), **limits)
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext))
    return ctx.redirect(f"/domains/{domain.name}", "domain-created")


def domain_detail(ctx: Ctx) -> Response:
    name = ctx.request.path_params["domain"]
    svc = ctx.services()
    domain = svc.domains.get(name)
    totals = ctx.usage().domain_totals([domain.name]).get(domain.name)
    admins = list(svc.backends.admins.administering(domain.name)) if ctx.is_operator else [ctx.admin]
    candidates = []
    if ctx.is_operator:
        candidates = [a for a in svc.admins.list() if a.role is Role.DOMAIN_ADMIN and domain.name not in a.domains]
    return ctx.render("domain.html", domain=domain, usage=totals, admins=admins, candidates=candidates,
                      alias_domains=svc.domain_routing.alias_domains(domain.name),
                      spam=svc.spam.show(domain.name))


def domain_edit(ctx: Ctx) -> Response:
    svc = ctx.services()
    svc.actor.require_superadmin()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    values = {"description": domain.description, **{n: str(getattr(domain.limits, n)) for n, _, _ in LIMIT_FIELDS}}
    for name in ("quota_pool", "default_quota", "max_message_size"):
        values[name] = format_size(getattr(domain.limits, name))
    form = _limit_form(N_("Limits of the domain"), N_("Save"), values, with_name=False)
    form.cancel = f"/domains/{domain.name}"
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=domain.name)
    limits = {name: ctx.field(name) for name, _, _ in LIMIT_FIELDS}
    try:
        svc.domains.set(domain.name, description=ctx.field("description"), **limits)
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.filled(ctx.form).fail(exc, ctx.gettext), subject=domain.name)
    return ctx.redirect(f"/domains/{domain.name}", "domain-saved")


def _set_status(status: Status) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        domain = ctx.services().domains.set_status(ctx.request.path_params["domain"], status)
        return ctx.redirect(f"/domains/{domain.name}",
                            "domain-activated" if status is Status.ACTIVE else "domain-suspended")
    return handler


def domain_delete(ctx: Ctx) -> Response:
    svc = ctx.services()
    svc.actor.require_superadmin()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    form = Form(N_("Delete the domain"), [
        Field("force", N_("Also delete all its accounts and aliases"), "checkbox"),
        Field("confirm", N_("Type the domain's name to confirm"), required=True),
    ], N_("Delete for good"), cancel=f"/domains/{domain.name}", danger=True,
        intro=N_("The domain and its aliases are removed for good. Each of its accounts is deleted into retention: "
                 "its mailbox is kept for the domain's period (%(days)s days), and can be restored once an "
                 "operator adds the domain again."), intro_values={"days": domain.limits.retention_days})
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form, subject=domain.name)
    try:
        if ctx.field("confirm").strip().lower() != domain.name:
            raise InvalidInput("confirm", Why.CONFIRM_DOMAIN())
        svc.domains.delete(domain.name, force=bool(ctx.field("force")))
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=form.fail(exc, ctx.gettext), subject=domain.name)
    return ctx.redirect("/domains", "domain-deleted")


def usage_refresh(ctx: Ctx) -> Response:
    name = ctx.request.path_params["domain"]
    ctx.usage().refresh_domain(name)
    return ctx.redirect(f"/domains/{name}", "usage-queued")


def appoint_admin(ctx: Ctx) -> Response:
    svc = ctx.services()
    svc.actor.require_superadmin()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    admin = svc.admins.get(ctx.field("login"))
    if admin.role is not Role.DOMAIN_ADMIN:
        raise InvalidInput("login", Why.OPERATOR_HAS_ALL())
    svc.admins.update(admin.login, domains=(*admin.domains, domain.name))
    return ctx.redirect(f"/domains/{domain.name}", "admin-appointed")


def remove_admin(ctx: Ctx) -> Response:
    svc = ctx.services()
    svc.actor.require_superadmin()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    admin = svc.admins.get(ctx.request.path_params["login"])
    remaining = tuple(d for d in admin.domains if d != domain.name)
    if not remaining:
        raise InvalidInput("domain", Why.ADMIN_WITHOUT_DOMAIN())
    svc.admins.update(admin.login, domains=remaining)
    return ctx.redirect(f"/domains/{domain.name}", "admin-removed")


def routes() -> list[Route]:
    return [
        page("/domains", domain_list, Access.ADMIN),
        page("/domains/new", domain_new, Access.OPERATOR, ("GET", "POST")),
        page("/domains/{domain}", domain_detail, Access.ADMIN),
        page("/domains/{domain}/edit", domain_edit, Access.OPERATOR, ("GET", "POST")),
        page("/domains/{domain}/suspend", _set_status(Status.DISABLED), Access.OPERATOR, ("POST",)),
        page("/domains/{domain}/activate", _set_status(Status.ACTIVE), Access.OPERATOR, ("POST",)),
        page("/domains/{domain}/delete", domain_delete, Access.OPERATOR, ("GET", "POST")),
        page("/domains/{domain}/usage/refresh", usage_refresh, Access.ADMIN, ("POST",)),
        page("/domains/{domain}/admins", appoint_admin, Access.OPERATOR, ("POST",)),
        page("/domains/{domain}/admins/{login}/remove", remove_admin, Access.OPERATOR, ("POST",)),
    ]
