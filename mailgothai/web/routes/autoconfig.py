"""Mail client set-up: Thunderbird autoconfig and Outlook autodiscover, describing
the IMAP and submission endpoints (host from `mail_hostname`, ports from settings)."""

from __future__ import annotations

from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_untrusted_xml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.errors import BackendError, InvalidInput
from mailgothai.web.context import Access
from mailgothai.web.state import WebState

MAX_BODY = 16 * 1024
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def _endpoints(state: WebState) -> dict[str, object]:
    s = state.settings
    host = s.mail_hostname or s.host
    # Loopback development has no TLS on these ports; a real host ends TLS in front.
    plain = host in ("127.0.0.1", "localhost", "::1")
    return {"host": host, "imap_port": s.imap_port, "submission_port": s.submission_port,
            "imap_socket": "plain" if plain else "STARTTLS", "smtp_socket": "plain" if plain else "STARTTLS"}


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
    e = _endpoints(state)
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{escape(domain)}">
    <domain>{escape(domain)}</domain>
    <displayName>MailGoThai ({escape(domain)})</displayName>
    <displayShortName>MailGoThai</displayShortName>
    <incomingServer type="imap">
      <hostname>{escape(str(e["host"]))}</hostname>
      <port>{e["imap_port"]}</port>
      <socketType>{e["imap_socket"]}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>{escape(str(e["host"]))}</hostname>
      <port>{e["submission_port"]}</port>
      <socketType>{e["smtp_socket"]}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""
    return _xml(body)


def _requested_address(raw: bytes) -> str:
    """The address of an autodiscover request. The parser itself (defusedxml, forbid_dtd)
    refuses a document type declaration, so no entity is ever expanded, whatever the
    encoding of the body (UTF-8, UTF-16 with either byte order, ...)."""
    if len(raw) > MAX_BODY:
        raise InvalidInput("body", "too large")
    try:
        root = parse_untrusted_xml(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise InvalidInput("body", "document type declarations are not accepted") from None
    except ParseError as exc:
        raise InvalidInput("body", f"not XML: {exc}") from None
    for element in root.iter():
        if element.tag.split("}")[-1] == "EMailAddress" and element.text:
            return normalize_address(element.text.strip(), "EMailAddress")
    raise InvalidInput("EMailAddress", "missing")


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
    e = _endpoints(state)
    ssl = "off" if e["imap_socket"] == "plain" else "on"

    def protocol(kind: str, port: object) -> str:
        return f"""      <Protocol>
        <Type>{kind}</Type>
        <Server>{escape(str(e["host"]))}</Server>
        <Port>{port}</Port>
        <LoginName>{escape(address)}</LoginName>
        <DomainRequired>off</DomainRequired>
        <SPA>off</SPA>
        <SSL>{ssl}</SSL>
        <Encryption>{"None" if ssl == "off" else "TLS"}</Encryption>
        <AuthRequired>on</AuthRequired>
      </Protocol>
"""
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="{OUTLOOK_NS}">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
{protocol("IMAP", e["imap_port"])}{protocol("SMTP", e["submission_port"])}    </Account>
  </Response>
</Autodiscover>
"""
    return _xml(body)


def _route(path: str, endpoint, methods: list[str]) -> Route:  # type: ignore[no-untyped-def]
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
