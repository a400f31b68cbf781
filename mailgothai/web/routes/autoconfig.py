"""Mail client set-up: Thunderbird autoconfig and Outlook autodiscover, describing
the IMAP and submission endpoints (host from `mail_hostname`, ports from settings).
Only TLS is advertised: implicit TLS first (imaps, smtps; RFC 8314), then STARTTLS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_untrusted_xml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.reasons import Why
from mailgothai.errors import BackendError, InvalidInput
from mailgothai.web.context import Access
from mailgothai.web.state import WebState

MAX_BODY = 16 * 1024
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


@dataclass(frozen=True)
class Endpoint:
    port: int
    implicit_tls: bool  # True: TLS from the first byte (imaps, smtps); False: STARTTLS

    @property
    def thunderbird_socket(self) -> str:
        return "SSL" if self.implicit_tls else "STARTTLS"

    @property
    def outlook_encryption(self) -> str:
        return "SSL" if self.implicit_tls else "TLS"


def _incoming(state: WebState) -> list[Endpoint]:
    s = state.settings
    return [*([Endpoint(s.imaps_port, True)] if s.imaps_port else []), Endpoint(s.imap_port, False)]


def _outgoing(state: WebState) -> list[Endpoint]:
    s = state.settings
    return [*([Endpoint(s.smtps_port, True)] if s.smtps_port else []), Endpoint(s.submission_port, False)]


def _mail_host(state: WebState) -> str:
    return state.settings.mail_hostname or state.settings.host


def _hosted(state: WebState, domain: str) -> bool | None:
    """True/False; None when the directory cannot be asked."""
    try:
        return state.backends.domains.find(domain) is not None
    except BackendError:
        return None


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/xml; charset=utf-8")


def thunderbird(request: Request) -> Response:
    state: WebState = request.app.state.web
    address = request.query_params.get("emailaddress", "")
    try:
        if address:
            domain = split_address(normalize_address(address, "emailaddress"))[1]
        else:
            domain = normalize_domain(request.url.hostname.removeprefix("autoconfig.") if request.url.hostname
                                      else "", "host")
    except InvalidInput:
        return _xml("<error>invalid address</error>", 400)
    hosted = _hosted(state, domain)
    if not hosted:
        return _xml("<error>not a hosted domain</error>" if hosted is False else "<error>unavailable</error>",
                    404 if hosted is False else 503)
    host = escape(_mail_host(state))

    # "password-cleartext" is Thunderbird's name for a normal password, sent inside TLS here.
    def server(element: str, kind: str, endpoint: Endpoint) -> str:
        return f"""    <{element} type="{kind}">
      <hostname>{host}</hostname>
      <port>{endpoint.port}</port>
      <socketType>{endpoint.thunderbird_socket}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </{element}>
"""
    servers = "".join([*(server("incomingServer", "imap", e) for e in _incoming(state)),
                       *(server("outgoingServer", "smtp", e) for e in _outgoing(state))])
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{escape(domain)}">
    <domain>{escape(domain)}</domain>
    <displayName>MailGoThai ({escape(domain)})</displayName>
    <displayShortName>MailGoThai</displayShortName>
{servers}  </emailProvider>
</clientConfig>
"""
    return _xml(body)


def _requested_address(raw: bytes) -> str:
    """The address of an autodiscover request. The parser itself (defusedxml, forbid_dtd)
    refuses a document type declaration, so no entity is ever expanded, whatever the
    encoding of the body (UTF-8, UTF-16 with either byte order, ...)."""
    if len(raw) > MAX_BODY:
        raise InvalidInput("body", Why.BODY_TOO_LARGE())
    try:
        root = parse_untrusted_xml(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise InvalidInput("body", Why.XML_DOCTYPE()) from None
    except ParseError as exc:
        raise InvalidInput("body", Why.NOT_XML(detail=str(exc))) from None
    for element in root.iter():
        if element.tag.split("}")[-1] == "EMailAddress" and element.text:
            return normalize_address(element.text.strip(), "EMailAddress")
    raise InvalidInput("EMailAddress", Why.MISSING())


async def outlook(request: Request) -> Response:
    state: WebState = request.app.state.web
    try:
        if request.method == "POST":
            address = _requested_address(await request.body())
        else:
            address = normalize_address(request.query_params.get("email", ""), "email")
    except InvalidInput as exc:
        return _xml(f"<error>{escape(exc.field)}: {escape(exc.reason)}</error>", 400)
    hosted = _hosted(state, split_address(address)[1])
    if not hosted:
        return _xml("<error>not a hosted domain</error>" if hosted is False else "<error>unavailable</error>",
                    404 if hosted is False else 503)
    host = escape(_mail_host(state))

    # Outlook takes one server of each type: the first (implicit TLS when it listens).
    def protocol(kind: str, endpoint: Endpoint) -> str:
        return f"""      <Protocol>
        <Type>{kind}</Type>
        <Server>{host}</Server>
        <Port>{endpoint.port}</Port>
        <LoginName>{escape(address)}</LoginName>
        <DomainRequired>off</DomainRequired>
        <SPA>off</SPA>
        <SSL>on</SSL>
        <Encryption>{endpoint.outlook_encryption}</Encryption>
        <AuthRequired>on</AuthRequired>
      </Protocol>
"""
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="{OUTLOOK_NS}">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
{protocol("IMAP", _incoming(state)[0])}{protocol("SMTP", _outgoing(state)[0])}    </Account>
  </Response>
</Autodiscover>
"""
    return _xml(body)


def _route(path: str, endpoint: Callable[[Request], Awaitable[Response] | Response], methods: list[str]) -> Route:
    route = Route(path, endpoint, methods=methods)
    route.access = Access.PUBLIC  # type: ignore[attr-defined]
    return route


def routes() -> list[Route]:
    return [
        _route("/.well-known/autoconfig/mail/config-v1.1.xml", thunderbird, ["GET"]),
        _route("/mail/config-v1.1.xml", thunderbird, ["GET"]),
        _route("/autodiscover/autodiscover.xml", outlook, ["GET", "POST"]),
        _route("/Autodiscover/Autodiscover.xml", outlook, ["GET", "POST"]),
    ]
