"""Mail client set-up documents advertise TLS only: Thunderbird's autoconfig and
Outlook's autodiscover never offer plain IMAP or SMTP (a password in clear text on the
wire), whatever the host, loopback included."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from mailgothai.settings import Settings
from tests.web.conftest import Client, Live, World

OUTLOOK = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


@pytest.fixture(params=["", "mail.example.go.th"], ids=["loopback host", "mail_hostname set"])
def mail_host(request: pytest.FixtureRequest, live: Live) -> Iterator[str]:
    before: Settings = live.state.settings
    live.state.settings = before.replace(mail_hostname=request.param)
    try:
        yield request.param or before.host
    finally:
        live.state.settings = before


def servers(root: ET.Element, kind: str) -> list[tuple[str, int, str, str]]:
    """(type, port, socketType, hostname) of each incomingServer / outgoingServer."""
    return [(s.get("type", ""), int(s.findtext("port", "0")), s.findtext("socketType", ""),
             s.findtext("hostname", "")) for s in root.iter(kind)]


def protocols_of(content: bytes) -> dict[str | None, ET.Element]:
    """Outlook's Protocol elements by their Type."""
    return {p.findtext(f"{OUTLOOK}Type"): p for p in ET.fromstring(content).iter(f"{OUTLOOK}Protocol")}


def test_thunderbird_autoconfig_offers_tls_only(client: Client, live: Live, world: World,
                                                mail_host: str) -> None:
    s = live.state.settings
    response = client.get("/.well-known/autoconfig/mail/config-v1.1.xml",
                          params={"emailaddress": world.user_a})
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    incoming, outgoing = servers(root, "incomingServer"), servers(root, "outgoingServer")
    assert incoming and outgoing
    for _, _, socket_type, host in incoming + outgoing:
        assert socket_type in ("SSL", "STARTTLS"), response.text  # never "plain"
        assert host == mail_host
    assert incoming[0] == ("imap", s.imaps_port, "SSL", mail_host)  # the first is what Thunderbird tries
    assert ("imap", s.imap_port, "STARTTLS", mail_host) in incoming
    assert ("smtp", s.submission_port, "STARTTLS", mail_host) in outgoing
    assert ("smtp", s.smtps_port, "SSL", mail_host) in outgoing
    assert "plain" not in response.text.lower().replace("password-cleartext", "")


def test_outlook_autodiscover_offers_tls_only(client: Client, live: Live, world: World,
                                              mail_host: str) -> None:
    s = live.state.settings
    for response in (client.get("/autodiscover/autodiscover.xml", params={"email": world.user_a}),
                     client.http.post("/autodiscover/autodiscover.xml", content=(
                         '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
                         'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>'
                         f'{world.user_a}</EMailAddress></Request></Autodiscover>').encode(),
                                      headers={"Content-Type": "text/xml"})):
        assert response.status_code == 200, response.text
        protocols = protocols_of(response.content)
        assert set(protocols) == {"IMAP", "SMTP"}
        for p in protocols.values():
            assert p.findtext(f"{OUTLOOK}SSL") == "on"
            assert p.findtext(f"{OUTLOOK}Encryption") in ("SSL", "TLS")
            assert p.findtext(f"{OUTLOOK}Server") == mail_host
        imap, smtp = protocols["IMAP"], protocols["SMTP"]
        for element, port in ((imap, s.imaps_port), (smtp, s.smtps_port)):
            assert (element.findtext(f"{OUTLOOK}Port"), element.findtext(f"{OUTLOOK}Encryption")) == (str(port), "SSL")


def test_without_smtps_outlook_is_sent_to_submission_with_starttls(client: Client, live: Live,
                                                                  world: World) -> None:
    before: Settings = live.state.settings
    live.state.settings = before.replace(smtps_port=0, imaps_port=0)
    try:
        response = client.get("/autodiscover/autodiscover.xml", params={"email": world.user_a})
        protocols = protocols_of(response.content)
        for kind, port in (("IMAP", before.imap_port), ("SMTP", before.submission_port)):
            assert protocols[kind].findtext(f"{OUTLOOK}Port") == str(port)
            assert protocols[kind].findtext(f"{OUTLOOK}Encryption") == "TLS"  # STARTTLS
        tb = client.get("/mail/config-v1.1.xml", params={"emailaddress": world.user_a})
        root = ET.fromstring(tb.content)
        assert servers(root, "incomingServer") == [("imap", before.imap_port, "STARTTLS", before.host)]
        assert servers(root, "outgoingServer") == [("smtp", before.submission_port, "STARTTLS", before.host)]
    finally:
        live.state.settings = before
