"""Password policies on the web (issue 20): a domain's policy (/domains/{domain}/password-policy,
its admins and operators; each field at least as strict as the floor) and the operator's
floor (/password-policy). Rights and checks stay in services/password_policy.py; the
account forms and the self-service change show a weak password's reason through the
account services, as any other refusal."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.password_policy import CLASS_ORDER, PasswordPolicy
from mailgothai.errors import MailGoThaiError
from mailgothai.services.password_policy import PasswordPolicyService
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "password-policy-saved": N_("The password policy was saved."),
    "password-policy-reset": N_("The domain follows the operator's password policy again."),
    "password-floor-saved": N_("The operator's password policy was saved."),
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


def domain_policy(ctx: Ctx) -> Response:
    service = _service(ctx)
    shown = service.show(ctx.request.path_params["domain"])  # 404 outside the admin's domains
    action = f"/domains/{shown.domain}/password-policy"
    intro = N_("The domain's own policy: every field at least as strict as the operator's (minimum length "
               "%(min_length)s, zxcvbn strength %(min_strength)s).") if shown.own else \
        N_("The domain follows the operator's policy (minimum length %(min_length)s, zxcvbn strength "
           "%(min_strength)s); you may make it stricter.")
    form = Form(N_("Password policy"), _fields(shown.policy), N_("Save the policy"), action=action,
                cancel=f"/domains/{shown.domain}", intro=intro,
                intro_values={"min_length": shown.floor.min_length, "min_strength": shown.floor.min_strength})
    if ctx.request.method == "GET":
        return ctx.render("password_policy.html", form=form, shown=shown, subject=shown.domain)
    try:
        service.set(shown.domain, _changes(ctx))
    except MailGoThaiError as exc:
        return ctx.render("password_policy.html", 400, form=_filled(form, ctx).fail(exc, ctx.gettext),
                          shown=shown, subject=shown.domain)
    return ctx.redirect(action, "password-policy-saved")


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
        page("/password-policy", floor, Access.OPERATOR, both),
    ]
