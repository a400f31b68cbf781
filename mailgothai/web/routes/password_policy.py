"""Password policies on the web (issue 20): a domain's policy (/domains/{domain}/password-policy,
its admins and operators; each field at least as strict as the floor) and the operator's
floor (/password-policy). Rights and checks stay in services/password_policy.py; the
account forms and the self-service change show a weak password's reason through the
account services, as any other refusal.

The same page's second form, "Password changes and expiry" (POST
/domains/{domain}/password-lifecycle), shows and sets the domain's change-at-first-login
options, maximum age and warning lead through services/password_lifecycle.py, the CLI's
service (scope and audit there)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.password_policy import CLASS_ORDER, PasswordPolicy
from mailgothai.errors import MailGoThaiError
from mailgothai.services.password_lifecycle import DomainLifecycle, PasswordLifecycleService
from mailgothai.services.password_policy import DomainPasswordPolicy, PasswordPolicyService
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "password-policy-saved": N_("The password policy was saved."),
    "password-policy-reset": N_("The domain follows the operator's password policy again."),
    "password-floor-saved": N_("The operator's password policy was saved."),
    "password-lifecycle-saved": N_("The settings for password changes and expiry were saved."),
})
CLASS_LABELS = (("lower", N_("lower-case letters (a-z)")), ("upper", N_("upper-case letters (A-Z)")),
                ("digit", N_("digits")), ("other", N_("others (symbols, Thai letters)")))
NUMBERS = ("min_length", "min_classes", "min_strength")


def _fields(policy: PasswordPolicy) -> list[Field]:
    return [
        Field("min_length", N_("Minimum length"), "number", value=str(policy.min_length), required=True),
        Field("required_classes", N_("Required kinds of character"), "select", options=CLASS_LABELS, multiple=True,
              values=tuple(c.value for c in CLASS_ORDER if c in policy.required)),
        Field("min_classes", N_("Kinds of character at least"), "number", value=str(policy.min_classes),
              help=N_("How many of the four kinds a password must have, whichever they are.")),
        Field("forbid_personal", N_("No names or addresses"), "checkbox", value="1" if policy.forbid_personal else "",
              help=N_("Refuse a password that contains the address, its local part, or the given name, surname or "
                      "a word of the display name (in any case).")),
        Field("min_strength", N_("Minimum strength (zxcvbn, 0-4)"), "number", value=str(policy.min_strength),
              help=N_("How hard the password is to guess, as zxcvbn estimates it: 0 none, 2 about 10^8 guesses, "
                      "4 about 10^10 or more.")),
    ]


def _changes(ctx: Ctx) -> dict[str, object]:
    changes: dict[str, object] = {name: ctx.field(name) for name in NUMBERS}
    chosen = ctx.form.getlist("required_classes") if hasattr(ctx.form, "getlist") else []
    changes["required_classes"] = [v for v in chosen if isinstance(v, str)]
    changes["forbid_personal"] = "true" if ctx.field("forbid_personal") else "false"
    return changes


def _filled(form: Form, ctx: Ctx) -> Form:
    """What was submitted, shown again (an unticked checkbox is not sent)."""
    form.filled(ctx.form)
    fields = []
    for f in form.fields:
        if f.kind == "checkbox":
            f = Field(f.name, f.label, f.kind, value="1" if ctx.field(f.name) else "", help=f.help)
        fields.append(f)
    form.fields = fields
    return form


def _service(ctx: Ctx) -> PasswordPolicyService:
    services = ctx.services()
    return PasswordPolicyService(services.backends, services.actor)


def _lifecycle_service(ctx: Ctx) -> PasswordLifecycleService:
    services = ctx.services()
    return PasswordLifecycleService(services.backends, services.actor)


def _lifecycle_form(item: DomainLifecycle) -> Form:
    lc = item.lifecycle
    return Form(N_("Password changes and expiry"), [
        Field("must_change_generated", N_("A generated password is changed at first login"), "checkbox",
              value="1" if lc.must_change_generated else "",
              help=N_("A new account whose password the system generated must change it before reading or "
                      "sending mail.")),
        Field("must_change_on_create", N_("Every new account changes its password at first login"), "checkbox",
              value="1" if lc.must_change_on_create else ""),
        Field("max_age_days", N_("Longest a password may be kept (days)"), "number",
              value=str(lc.max_age_days) if lc.max_age_days else "",
              help=N_("Empty or 0: passwords do not expire. An expired password must be changed before the "
                      "account can read or send mail again.")),
        Field("warn_days", N_("Warning before a password expires (days)"), "number", value=str(lc.warn_days),
              required=True, help=N_("A warning goes to the account by mail this many days before its password "
                                     "expires.")),
    ], N_("Save these settings"), action=f"/domains/{item.domain}/password-lifecycle")


def _lifecycle_changes(ctx: Ctx) -> dict[str, object]:
    """The form's four fields (an unticked checkbox is not sent: off)."""
    return {"must_change_generated": "true" if ctx.field("must_change_generated") else "false",
            "must_change_on_create": "true" if ctx.field("must_change_on_create") else "false",
            "max_age_days": ctx.field("max_age_days"), "warn_days": ctx.field("warn_days")}


def _policy_form(shown: DomainPasswordPolicy) -> Form:
    action = f"/domains/{shown.domain}/password-policy"
    intro = N_("The domain's own policy: every field at least as strict as the operator's (minimum length "
               "%(min_length)s, zxcvbn strength %(min_strength)s).") if shown.own else \
        N_("The domain follows the operator's policy (minimum length %(min_length)s, zxcvbn strength "
           "%(min_strength)s); you may make it stricter.")
    return Form(N_("Password policy"), _fields(shown.policy), N_("Save the policy"), action=action,
                cancel=f"/domains/{shown.domain}", intro=intro,
                intro_values={"min_length": shown.floor.min_length, "min_strength": shown.floor.min_strength})


def domain_policy(ctx: Ctx) -> Response:
    service = _service(ctx)
    shown = service.show(ctx.request.path_params["domain"])  # 404 outside the admin's domains
    form = _policy_form(shown)
    lifecycle = _lifecycle_service(ctx).show(shown.domain)
    page_args: dict[str, Any] = {"shown": shown, "lifecycle": lifecycle, "subject": shown.domain}
    if ctx.request.method == "GET":
        return ctx.render("password_policy.html", form=form, lifecycle_form=_lifecycle_form(lifecycle), **page_args)
    try:
        service.set(shown.domain, _changes(ctx))
    except MailGoThaiError as exc:
        return ctx.render("password_policy.html", 400, form=_filled(form, ctx).fail(exc, ctx.gettext),
                          lifecycle_form=_lifecycle_form(lifecycle), **page_args)
    return ctx.redirect(form.action, "password-policy-saved")


def domain_lifecycle(ctx: Ctx) -> Response:
    """The page's second form: change at first login, maximum age, warning lead."""
    service = _lifecycle_service(ctx)
    lifecycle = service.show(ctx.request.path_params["domain"])  # 404 outside the admin's domains
    back = f"/domains/{lifecycle.domain}/password-policy"
    try:
        service.set(lifecycle.domain, _lifecycle_changes(ctx), datetime.now(UTC))
    except MailGoThaiError as exc:
        shown = _service(ctx).show(lifecycle.domain)
        failed = _filled(_lifecycle_form(lifecycle), ctx).fail(exc, ctx.gettext)
        return ctx.render("password_policy.html", 400, form=_policy_form(shown), lifecycle_form=failed,
                          shown=shown, lifecycle=lifecycle, subject=shown.domain)
    return ctx.redirect(back, "password-lifecycle-saved")


def domain_policy_reset(ctx: Ctx) -> Response:
    shown = _service(ctx).reset(ctx.request.path_params["domain"])
    return ctx.redirect(f"/domains/{shown.domain}/password-policy", "password-policy-reset")


def floor(ctx: Ctx) -> Response:
    service = _service(ctx)
    now = service.floor()
    form = Form(N_("The operator's password policy"), _fields(now.policy), N_("Save"), action="/password-policy",
                cancel="/", intro=N_("Every domain's passwords must meet this; a domain admin may only make their "
                                     "domain's policy stricter. It applies to passwords set from now on."))
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    try:
        service.set_floor(_changes(ctx))
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=_filled(form, ctx).fail(exc, ctx.gettext))
    return ctx.redirect("/password-policy", "password-floor-saved")


def routes() -> list[Route]:
    both = ("GET", "POST")
    return [
        page("/domains/{domain}/password-policy", domain_policy, Access.ADMIN, both),
        page("/domains/{domain}/password-policy/reset", domain_policy_reset, Access.ADMIN, ("POST",)),
        page("/domains/{domain}/password-lifecycle", domain_lifecycle, Access.ADMIN, ("POST",)),
        page("/password-policy", floor, Access.OPERATOR, both),
    ]
