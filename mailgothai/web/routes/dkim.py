"""A domain's DKIM keys on the web (issue 19): /domains/{domain}/dkim lists each key, its
state and its DNS record, and generates, rotates, activates and retires keys — its
admins and operators, through the same service as the CLI and the API
(services/dkim.py: scope checks, audit records, the relay told)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.addresses import normalize_domain
from mailgothai.errors import MailGoThaiError
from mailgothai.services.dkim import DkimService, record_of
from mailgothai.web.context import NOTICES, Access, Ctx, page
from mailgothai.web.forms import Field, Form
from mailgothai.web.i18n import N_

NOTICES.update({
    "dkim-generated": N_("The key was made and signs from now on: publish its DNS record."),
    "dkim-rotated": N_("The new key is pending: publish its DNS record, then activate it."),
    "dkim-activated": N_("The new key signs from now on; the key it replaced is retiring."),
    "dkim-retired": N_("The key was retired and its private key deleted; its DNS record may be removed."),
})
ALGORITHMS = (("rsa", N_("RSA (2048 bits)")), ("ed25519", N_("Ed25519 (an extra signature)")))


def _form(base: str, action: str) -> Form:
    if action == "generate":
        return Form(N_("Generate a key"), [Field("algorithm", N_("Key type"), "select", value="rsa",
                                                 options=ALGORITHMS)],
                    N_("Generate"), action=f"{base}/generate",
                    intro=N_("The domain's first key of a type: it signs at once."))
    return Form(N_("Rotate a key"), [Field("algorithm", N_("Key type"), "select", value="rsa", options=ALGORITHMS)],
                N_("Rotate"), action=f"{base}/rotate",
                intro=N_("A new key to publish in DNS; the current key signs until you activate the new one "
                         "(or it switches by itself after the delay the operator set)."))


def _page(ctx: Ctx, service: DkimService, name: str, *, status: int = 200, failed: Form | None = None) -> Response:
    found = service.list(name)  # first: 404 outside the admin's domains
    domain = normalize_domain(name)
    base = f"/domains/{domain}/dkim"
    forms = [failed if failed is not None and failed.action.endswith(action) else _form(base, action)
             for action in ("generate", "rotate")]
    return ctx.render("dkim.html", status, domain=domain, base=base, forms=forms,
                      keys=[(key, record_of(key)) for key in found])


def keys(ctx: Ctx) -> Response:
    return _page(ctx, ctx.services().dkim, ctx.request.path_params["domain"])


def _new_key(action: str) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        service = ctx.services().dkim
        name = ctx.request.path_params["domain"]
        service.list(name)  # 404 outside the admin's domains, before anything else
        domain = normalize_domain(name)
        try:
            if action == "generate":
                service.generate(domain, ctx.field("algorithm", "rsa"))
            else:
                service.rotate(domain, ctx.field("algorithm", "rsa"))
        except MailGoThaiError as exc:
            form = _form(f"/domains/{domain}/dkim", action).filled(ctx.form).fail(exc, ctx.gettext)
            return _page(ctx, service, domain, status=400, failed=form)
        return ctx.redirect(f"/domains/{domain}/dkim", f"dkim-{action}d")
    return handler


def _change(action: str) -> Callable[[Ctx], Response]:
    def handler(ctx: Ctx) -> Response:
        service = ctx.services().dkim
        domain, selector = ctx.request.path_params["domain"], ctx.request.path_params["selector"]
        key = service.activate(domain, selector) if action == "activate" else service.retire(domain, selector)
        return ctx.redirect(f"/domains/{key.domain}/dkim", f"dkim-{action}d")
    return handler


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/dkim", keys, Access.ADMIN),
        page("/domains/{domain}/dkim/generate", _new_key("generate"), Access.ADMIN, ("POST",)),
        page("/domains/{domain}/dkim/rotate", _new_key("rotate"), Access.ADMIN, ("POST",)),
        page("/domains/{domain}/dkim/{selector}/activate", _change("activate"), Access.ADMIN, ("POST",)),
        page("/domains/{domain}/dkim/{selector}/retire", _change("retire"), Access.ADMIN, ("POST",)),
    ]
