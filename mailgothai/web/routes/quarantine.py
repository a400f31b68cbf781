"""The quarantine on the web (issue 18): a domain's at /domains/{domain}/quarantine for its
admins (and the operator), a mail user's own at /me/quarantine; one message's headers and
text (never its HTML run); release, delete and teach rspamd, each a POST with the CSRF
token. Who reaches what is the service's (services/quarantine.py)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.services.listing import page_args
from mailgothai.services.quarantine import QuarantineService
from mailgothai.web.context import NOTICES, Access, Ctx, Handler, page
from mailgothai.web.i18n import N_

NOTICES.update({
    "quarantine-released": N_("The message will be delivered to its recipients now."),
    "quarantine-deleted": N_("The message was deleted from the quarantine."),
    "quarantine-unchanged": N_("Nothing changed: the message was released or deleted already."),
    "quarantine-learned-spam": N_("rspamd learned the message as spam."),
    "quarantine-learned-ham": N_("rspamd learned the message as not spam."),
})
ACTIONS = ("release", "delete", "learn-spam", "learn-ham")
PAGE = 100
STATE_LABELS = {"held": N_("held"), "release_requested": N_("being released"), "released": N_("released"),
                "deleted": N_("deleted")}


def _act(service: QuarantineService, message_id: str, action: str) -> str:
    """Does `action`; the notice to show."""
    if action == "learn-spam" or action == "learn-ham":
        service.learn(message_id, spam=action == "learn-spam")
        return f"quarantine-learned-{action[6:]}"
    changed = service.release(message_id) if action == "release" else service.delete(message_id)
    return ("quarantine-released" if action == "release" else "quarantine-deleted") if changed \
        else "quarantine-unchanged"


# ---- a domain's, for its admins --------------------------------------------------------
def _offset(ctx: Ctx) -> int:
    return page_args(ctx.arg("offset"), PAGE, PAGE)[0]


def domain_quarantine(ctx: Ctx) -> Response:
    svc = ctx.services()
    domain = svc.domains.get(ctx.request.path_params["domain"])
    offset = _offset(ctx)
    return ctx.render("quarantine.html", held=svc.quarantine.listing(domain.name, limit=PAGE, offset=offset),
                      domain=domain, base="/quarantine", own=False, state_labels=STATE_LABELS, offset=offset,
                      page=PAGE)


def admin_message(ctx: Ctx) -> Response:
    shown = ctx.services().quarantine.show(ctx.request.path_params["id"])
    return ctx.render("quarantine_message.html", shown=shown, base="/quarantine", state_labels=STATE_LABELS,
                      back=f"/domains/{shown.held.recipients[0].domain}/quarantine")


def admin_action(action: str) -> Handler:
    def handler(ctx: Ctx) -> Response:
        svc = ctx.services().quarantine
        held = svc.get(ctx.request.path_params["id"])
        notice = _act(svc, held.id, action)
        return ctx.redirect(f"/domains/{held.recipients[0].domain}/quarantine", notice)
    return handler


# ---- a mail user's own -----------------------------------------------------------------
def _mine(ctx: Ctx) -> QuarantineService:
    return QuarantineService.of_user(ctx.state.backends, ctx.user_email)


def my_quarantine(ctx: Ctx) -> Response:
    offset = _offset(ctx)
    return ctx.render("quarantine.html", held=_mine(ctx).listing(limit=PAGE, offset=offset), domain=None,
                      base="/me/quarantine", own=True, state_labels=STATE_LABELS, offset=offset, page=PAGE)


def my_message(ctx: Ctx) -> Response:
    shown = _mine(ctx).show(ctx.request.path_params["id"])
    return ctx.render("quarantine_message.html", shown=shown, base="/me/quarantine", back="/me/quarantine",
                      state_labels=STATE_LABELS)


def my_action(action: str) -> Handler:
    def handler(ctx: Ctx) -> Response:
        return ctx.redirect("/me/quarantine", _act(_mine(ctx), ctx.request.path_params["id"], action))
    return handler


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/quarantine", domain_quarantine, Access.ADMIN),
        page("/quarantine/{id}", admin_message, Access.ADMIN),
        *(page(f"/quarantine/{{id}}/{name}", admin_action(name), Access.ADMIN, ("POST",)) for name in ACTIONS),
        page("/me/quarantine", my_quarantine, Access.USER),
        page("/me/quarantine/{id}", my_message, Access.USER),
        *(page(f"/me/quarantine/{{id}}/{name}", my_action(name), Access.USER, ("POST",)) for name in ACTIONS),
    ]
