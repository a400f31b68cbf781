"""A domain's DNS records on the web (issue 19): /domains/{domain}/dns shows every record
to publish (each row, and the whole as a zone file to copy), and its "Check DNS" button
asks DNS and shows each record as ok, missing, wrong or not asked, with the reason — for
the domain's admins and operators, through the same service as the CLI and the API
(services/dns_check.py: the scope check). The MTA-STS policy itself: mta_sts.py."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape
from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.reasons import Reason
from mailgothai.services.dns_check import DomainCheck, DomainRecords
from mailgothai.web.context import Access, Ctx, page
from mailgothai.web.i18n import N_

PURPOSES = {
    "mx": N_("Where the domain's mail is delivered"),
    "spf": N_("Servers allowed to send the domain's mail"),
    "dkim": N_("A DKIM key the relay signs with"),
    "dmarc": N_("What receivers do with mail that fails the checks, and where they report"),
    "dmarc-reports": N_("Lets the report address receive this domain's reports (in that address's zone)"),
    "mta-sts": N_("Tells senders the domain's mail must arrive over TLS (the policy's version)"),
    "mta-sts-host": N_("Where senders fetch the TLS policy"),
    "tls-rpt": N_("Where senders report failed TLS connections"),
    "autoconfig": N_("Mail client set-up (Thunderbird)"),
    "autodiscover": N_("Mail client set-up (Outlook)"),
    "srv-imaps": N_("Mail client set-up: reading mail"),
    "srv-submissions": N_("Mail client set-up: sending mail"),
    "srv-submission": N_("Mail client set-up: sending mail"),
}
STATES = {"ok": N_("OK"), "missing": N_("not published"), "wrong": N_("wrong"), "unknown": N_("could not ask")}


def reason_html(reason: Reason, gettext: Callable[[str], str]) -> Markup:
    """A finding's reason in the page's language, the values it quotes from DNS (names,
    records) marked as data (translate="no"), not as words to translate."""
    shown = {name: Markup('<span translate="no">{}</span>').format(value) if isinstance(value, str | int)
             else value.render(gettext) for name, value in reason.params.items()}
    return Markup(escape(gettext(reason.why.value))) % shown


def _render(ctx: Ctx, found: DomainRecords, checked: DomainCheck | None = None) -> Response:
    return ctx.render("dns.html", domain=found.domain, found=found, checked=checked, purposes=PURPOSES,
                      states=STATES, reason=lambda r: reason_html(r, ctx.gettext))


def records(ctx: Ctx) -> Response:
    return _render(ctx, ctx.services().dns.records(ctx.request.path_params["domain"]))


def check(ctx: Ctx) -> Response:
    service = ctx.services().dns
    found = service.records(ctx.request.path_params["domain"])  # first: 404 outside the admin's domains
    return _render(ctx, found, service.check(found.domain))


def routes() -> list[Route]:
    return [
        page("/domains/{domain}/dns", records, Access.ADMIN),
        page("/domains/{domain}/dns/check", check, Access.ADMIN, ("POST",)),
    ]
