"""Mail filters on the web (issue 17): a mail user's own at /me/filters, and a domain
admin's (or an operator's) for an account at /accounts/{email}/filters. One page, a row
per rule (sender or subject contains → move, forward, discard) and a few blank rows;
saved through services/filters.py, which never overwrites a script the web did not write."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.sieve_filters import SCRIPT_NAME, Action, Rule
from mailgothai.errors import InvalidInput
from mailgothai.services.filters import Filters, FilterState
from mailgothai.web.context import NOTICES, Access, Ctx, describe, page
from mailgothai.web.i18n import N_
from mailgothai.web.messages import field_label

NOTICES["filters-saved"] = N_("Your filter rules were saved.")
NOTICES["filters-saved-inactive"] = N_(
    "The rules were saved, but a Sieve script of your own is active: they take effect when the MailGoThai "
    "script is made active again.")
BLANK_ROWS = 3
FIELDS = (("sender", N_("Sender contains")), ("subject", N_("Subject contains")))
ACTIONS = (("move", N_("Move to folder")), ("forward", N_("Forward to (a copy stays in the inbox)")),
           ("discard", N_("Delete it (discard)")))
_AT = re.compile(r"rules\[(\d+)\](?:\.(\w+))?")


@dataclass
class Row:
    field: str = "sender"
    contains: str = ""
    action: str = "move"
    target: str = ""  # the folder or the address
    error: str = ""

    @classmethod
    def of(cls, rule: Rule) -> Row:
        return cls(rule.field.value, rule.contains, rule.action.value,
                   rule.folder if rule.action is Action.MOVE else rule.address)


@dataclass
class Sheet:
    rows: list[Row] = field(default_factory=list)
    error: str = ""
    use_instead: bool = False


def _rows_of(state: FilterState) -> list[Row]:
    return [Row.of(rule) for rule in state.rules] + [Row() for _ in range(BLANK_ROWS)]


def _submitted(ctx: Ctx) -> tuple[list[Row], list[dict[str, str]], list[int]]:
    """The rows as typed, the rules of the filled ones, and which row each rule came from."""
    rows, rules, row_of = [], [], []
    n = 0
    while f"contains_{n}" in (ctx.form or {}) and n < 1000:
        row = Row(ctx.field(f"field_{n}"), ctx.field(f"contains_{n}"), ctx.field(f"action_{n}"),
                  ctx.field(f"target_{n}"))
        rows.append(row)
        if row.contains.strip() or row.target.strip():
            rule = {"field": row.field, "contains": row.contains, "action": row.action}
            if row.action == "move":
                rule["folder"] = row.target
            elif row.action == "forward":
                rule["address"] = row.target
            rules.append(rule)
            row_of.append(n)
        n += 1
    return rows, rules, row_of


def _show(ctx: Ctx, service: Filters, email: str, base: str, status: int = 200, sheet: Sheet | None = None,
          state: FilterState | None = None) -> Response:
    state = state or service.show(email)
    sheet = sheet or Sheet(_rows_of(state))
    return ctx.render("filters.html", status, state=state, sheet=sheet, base=base, own=base == "/me/filters",
                      fields=FIELDS, actions=ACTIONS, script_name=SCRIPT_NAME)


def _save(ctx: Ctx, service: Filters, email: str, base: str, back: str) -> Response:
    rows, rules, row_of = _submitted(ctx)
    use_instead = ctx.field("use_instead") == "1"
    try:
        state = service.save(email, rules, use_instead_of_own=use_instead,
                             current_password=ctx.field("current_password"))
    except InvalidInput as exc:  # other errors: the error pages (web/context.py)
        sheet = Sheet(rows, use_instead=use_instead)
        at = _AT.fullmatch(exc.field)
        if at and int(at.group(1)) < len(row_of):
            row = rows[row_of[int(at.group(1))]]
            row.error = exc.why.render(ctx.gettext)
            label = field_label(at.group(2) or "rules", ctx.gettext)
            sheet.error = ctx.gettext("Rule %(n)s, %(field)s: %(reason)s") % {
                "n": row_of[int(at.group(1))] + 1, "field": label, "reason": row.error}
        else:
            sheet.error = describe(ctx, exc)
        return _show(ctx, service, email, base, 400, sheet)
    return ctx.redirect(back, "filters-saved" if state.in_effect else "filters-saved-inactive")


def my_filters(ctx: Ctx) -> Response:
    service = Filters.of_user(ctx.state.backends, ctx.user_email)
    if ctx.request.method == "POST":
        return _save(ctx, service, ctx.user_email, "/me/filters", "/me/filters")
    return _show(ctx, service, ctx.user_email, "/me/filters")


def account_filters(ctx: Ctx) -> Response:
    email = ctx.request.path_params["email"]
    service = ctx.services().filters
    base = f"/accounts/{email}/filters"
    if ctx.request.method == "POST":
        return _save(ctx, service, email, base, base)
    return _show(ctx, service, email, base)


def routes() -> list[Route]:
    return [
        page("/me/filters", my_filters, Access.USER, ("GET", "POST")),
        page("/accounts/{email}/filters", account_filters, Access.ADMIN, ("GET", "POST")),
    ]
