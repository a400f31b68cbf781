"""Inbound protection on the web (issue 18): a domain's spam policy and its allow and block
lists (/domains/{domain}/spam, its admins and operators), an account's own lists (the
mail user at /me/spam, an admin at /accounts/{email}/spam), and the operator's default
policy and bounds (/spam/defaults). Rights and checks stay in services/spam_policy.py."""

from __future__ import annotations

import dataclasses

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.spam import PolicyBounds, SpamPolicy
from mailgothai.errors import MailGoThaiError
from mailgothai.services.spam_policy import SpamPolicyService
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "spam-policy-saved": N_("The spam policy was saved."),
    "spam-policy-reset": N_("The domain follows the operator's default spam policy again."),
    "spam-defaults-saved": N_("The default spam policy and the bounds were saved."),
    "sender-added": N_("The sender was added to the list."),
    "sender-removed": N_("The sender was removed from the list."),
})
POLICY_FIELDS = ("junk_score", "quarantine_score", "reject_score", "quarantine_days")
BOUNDS_FIELDS = ("lowest_score", "highest_score", "longest_quarantine_days")
KINDS = (("block", N_("Block: always refuse this sender")),
         ("allow", N_("Allow: never treat this sender's mail as spam (when its domain is verified)")))


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _policy_fields(policy: SpamPolicy) -> list[Field]:
    return [
        Field("junk_score", N_("Junk score"), value=_score(policy.junk),
              help=N_("From this rspamd score mail is marked X-Spam: Yes and filed into Junk. Empty: off.")),
        Field("quarantine_score", N_("Quarantine score"), value=_score(policy.quarantine),
              help=N_("From this score mail is kept in the quarantine instead of delivered. Empty: off.")),
        Field("reject_score", N_("Reject score"), value=_score(policy.reject),
              help=N_("From this score mail is refused (550). Empty: off.")),
        Field("greylisting", N_("Greylisting"), "checkbox", value="1" if policy.greylisting else "",
              help=N_("Unknown senders are asked to send again a few minutes later.")),
        Field("quarantine_days", N_("Days in quarantine"), "number", value=str(policy.quarantine_days)),
    ]


def _policy_changes(ctx: Ctx, names: tuple[str, ...]) -> dict[str, object]:
    changes: dict[str, object] = {name: ctx.field(name) for name in names}
    changes["greylisting"] = "true" if ctx.field("greylisting") else "false"
    return changes


def _filled(form: Form, ctx: Ctx) -> Form:
    """The form showing what was submitted, its checkboxes too (an unticked one is not sent)."""
    form.filled(ctx.form)
    form.fields = [dataclasses.replace(f, value="1" if ctx.field(f.name) else "") if f.kind == "checkbox" else f
                   for f in form.fields]
    return form


def _policy_form(domain: str, policy: SpamPolicy) -> Form:
    return Form(N_("Spam policy"), _policy_fields(policy), N_("Save the policy"), action=f"/domains/{domain}/spam")


def _rule_form(action: str) -> Form:
    return Form(N_("Add a sender"), [
        Field("kind", N_("List"), "select", value="block", options=KINDS),
        Field("pattern", N_("Sender address or domain"), required=True,
              help=N_("An address (somebody@example.com) or a domain (example.com, its subdomains too)")),
    ], N_("Add to the list"), action=action)


def _lists(ctx: Ctx, service: SpamPolicyService, owner: str, base: str, *, status: int = 200,
           rule_form: Form | None = None, **values: object) -> Response:
    return ctx.render("spam_lists.html", status, owner=owner, base=base, rules=service.rules(owner),
                      rule_form=rule_form or _rule_form(f"{base}/rules"), **values)


def _add_rule(ctx: Ctx, service: SpamPolicyService, owner: str, base: str, **values: object) -> Response:
    try:
        service.add_rule(owner, ctx.field("kind"), ctx.field("pattern"))
    except MailGoThaiError as exc:
        form = _rule_form(f"{base}/rules").filled(ctx.form).fail(exc, ctx.gettext)
        return _lists(ctx, service, owner, base, status=400, rule_form=form, **values)
    return ctx.redirect(base, "sender-added")


def _remove_rule(ctx: Ctx, service: SpamPolicyService, owner: str, base: str) -> Response:
    service.remove_rule(owner, ctx.field("kind"), ctx.field("pattern"))
    return ctx.redirect(base, "sender-removed")


# ---- a domain ---------------------------------------------------------------------------

def domain_spam(ctx: Ctx) -> Response:
    service = ctx.services().spam
    shown = service.show(ctx.request.path_params["domain"])  # 404 outside the admin's domains
    base = f"/domains/{shown.domain}/spam"
    form = _policy_form(shown.domain, shown.policy)
    status = 200
    if ctx.request.method == "POST":
        try:
            service.set(shown.domain, _policy_changes(ctx, POLICY_FIELDS))
        except MailGoThaiError as exc:
            form = _filled(form, ctx).fail(exc, ctx.gettext)
            status = 400
        else:
            return ctx.redirect(base, "spam-policy-saved")
    return _lists(ctx, service, shown.domain, base, status=status, shown=shown, policy_form=form)


def domain_spam_reset(ctx: Ctx) -> Response:
    shown = ctx.services().spam.reset(ctx.request.path_params["domain"])
    return ctx.redirect(f"/domains/{shown.domain}/spam", "spam-policy-reset")


def domain_rule_add(ctx: Ctx) -> Response:
    service = ctx.services().spam
    shown = service.show(ctx.request.path_params["domain"])
    return _add_rule(ctx, service, shown.domain, f"/domains/{shown.domain}/spam", shown=shown,
                     policy_form=_policy_form(shown.domain, shown.policy))


def domain_rule_remove(ctx: Ctx) -> Response:
    service = ctx.services().spam
    shown = service.show(ctx.request.path_params["domain"])
    return _remove_rule(ctx, service, shown.domain, f"/domains/{shown.domain}/spam")


# ---- an account: the user's own, or an admin's for an account of its domains ---------------

def my_spam(ctx: Ctx) -> Response:
    service = SpamPolicyService.of_user(ctx.state.backends, ctx.user_email)
    return _lists(ctx, service, ctx.user_email, "/me/spam", own=True)


def my_rule_add(ctx: Ctx) -> Response:
    service = SpamPolicyService.of_user(ctx.state.backends, ctx.user_email)
    return _add_rule(ctx, service, ctx.user_email, "/me/spam", own=True)


def my_rule_remove(ctx: Ctx) -> Response:
    service = SpamPolicyService.of_user(ctx.state.backends, ctx.user_email)
    return _remove_rule(ctx, service, ctx.user_email, "/me/spam")


def account_spam(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    return _lists(ctx, ctx.services().spam, email, f"/accounts/{email}/spam")


def account_rule_add(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    return _add_rule(ctx, ctx.services().spam, email, f"/accounts/{email}/spam")


def account_rule_remove(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    return _remove_rule(ctx, ctx.services().spam, email, f"/accounts/{email}/spam")


# ---- the operator's defaults and bounds -----------------------------------------------------

def _defaults_form(policy: SpamPolicy, bounds: PolicyBounds) -> Form:
    return Form(N_("Default spam policy and bounds"), [
        *_policy_fields(policy),
        Field("lowest_score", N_("Lowest score a domain may set"), value=_score(bounds.lowest_score),
              required=True),
        Field("highest_score", N_("Highest score a domain may set"), value=_score(bounds.highest_score),
              required=True),
        Field("longest_quarantine_days", N_("Longest quarantine a domain may set (days)"), "number",
              value=str(bounds.longest_quarantine_days), required=True),
        Field("may_disable_greylisting", N_("Domains may turn greylisting off"), "checkbox",
              value="1" if bounds.may_disable_greylisting else ""),
    ], N_("Save"), action="/spam/defaults", cancel="/",
        intro=N_("Domains without a policy of their own follow this one. Domain admins may change their "
                 "domain's policy within these bounds; operators are not bound."))


def spam_defaults(ctx: Ctx) -> Response:
    service = ctx.services().spam
    now = service.defaults()
    form = _defaults_form(now.policy, now.bounds)
    if ctx.request.method == "GET":
        return ctx.render("form.html", form=form)
    changes = _policy_changes(ctx, POLICY_FIELDS + BOUNDS_FIELDS)
    changes["may_disable_greylisting"] = "true" if ctx.field("may_disable_greylisting") else "false"
    try:
        service.set_defaults(changes)
    except MailGoThaiError as exc:
        return ctx.render("form.html", 400, form=_filled(form, ctx).fail(exc, ctx.gettext))
    return ctx.redirect("/spam/defaults", "spam-defaults-saved")


def routes() -> list[Route]:
    both = ("GET", "POST")
    return [
        page("/domains/{domain}/spam", domain_spam, Access.ADMIN, both),
        page("/domains/{domain}/spam/reset", domain_spam_reset, Access.ADMIN, ("POST",)),
        page("/domains/{domain}/spam/rules", domain_rule_add, Access.ADMIN, ("POST",)),
        page("/domains/{domain}/spam/rules/remove", domain_rule_remove, Access.ADMIN, ("POST",)),
        page("/me/spam", my_spam, Access.USER),
        page("/me/spam/rules", my_rule_add, Access.USER, ("POST",)),
        page("/me/spam/rules/remove", my_rule_remove, Access.USER, ("POST",)),
        page("/accounts/{email}/spam", account_spam, Access.ADMIN),
        page("/accounts/{email}/spam/rules", account_rule_add, Access.ADMIN, ("POST",)),
        page("/accounts/{email}/spam/rules/remove", account_rule_remove, Access.ADMIN, ("POST",)),
        page("/spam/defaults", spam_defaults, Access.OPERATOR, both),
    ]
