"""IMAP over TLS against the stack's real Dovecot: implicit TLS on the imaps port and
STARTTLS on the IMAP port, both with the stack's certificate; a password sent before
TLS is refused.

Dovecot counts a connection whose remote address equals its local address
(127.0.0.1 -> 127.0.0.1) as secured, a client on the server's own host, and lets it log
in without TLS (Dovecot's `disable_plaintext_auth` documentation). A client elsewhere is
what the refusal is for, so those tests connect from another loopback address,
127.0.0.2, which Linux routes on lo like 127.0.0.1.
"""

from __future__ import annotations

import imaplib
import json
import socket
import ssl
import uuid
from pathlib import Path

import pytest
from cryptography import x509

from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from tests.conftest import Cli

pytestmark = pytest.mark.integration

PASSWORD = "Tls-only-pass-7"
OTHER_SOURCE = "127.0.0.2"


class IMAP4FromOtherAddress(imaplib.IMAP4):
    """imaplib's IMAP4 with its socket bound to another loopback source address."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout, source_address=(OTHER_SOURCE, 0))


def stack_tls_context(settings: Settings) -> ssl.SSLContext:
    """What a client configured to trust the stack's certificate uses: verification and
    host name check on (the certificate names the stack's host address)."""
    return ssl.create_default_context(cafile=str(settings.tls_cert_path))


def account(services: Services) -> str:
    domain = f"tls{uuid.uuid4().hex[:8]}.go.th"
    services.domains.add(domain)
    email = f"somsri.k@{domain}"
    services.accounts.add(email, PasswordInput(plain=PASSWORD))
    return email


def served_certificate(sock: ssl.SSLSocket) -> bytes:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return der


def stack_certificate(settings: Settings) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return x509.load_pem_x509_certificate(Path(settings.tls_cert_path).read_bytes()).public_bytes(Encoding.DER)


def test_login_over_implicit_tls_on_the_imaps_port(stack: Settings, services: Services) -> None:
    email = account(services)
    assert stack.imaps_port and stack.imaps_port != stack.imap_port
    with imaplib.IMAP4_SSL(stack.host, stack.imaps_port, ssl_context=stack_tls_context(stack), timeout=30) as imap:
        assert served_certificate(imap.sock) == stack_certificate(stack)  # type: ignore[arg-type]
        assert "LOGINDISABLED" not in imap.capabilities
        assert imap.login(email, PASSWORD)[0] == "OK"
        assert imap.select("INBOX")[0] == "OK"
        imap.logout()


def test_login_after_starttls_from_another_host(stack: Settings, services: Services) -> None:
    email = account(services)
    with IMAP4FromOtherAddress(stack.host, stack.imap_port, timeout=30) as imap:
        assert "STARTTLS" in imap.capabilities
        assert "LOGINDISABLED" in imap.capabilities  # before TLS: no password may be sent
        assert imap.starttls(stack_tls_context(stack))[0] == "OK"
        assert served_certificate(imap.sock) == stack_certificate(stack)  # type: ignore[arg-type]
        assert "LOGINDISABLED" not in imap.capabilities
        assert imap.login(email, PASSWORD)[0] == "OK"
        assert imap.select("INBOX")[0] == "OK"
        imap.logout()


def test_plaintext_login_refused_without_tls(stack: Settings, services: Services) -> None:
    email = account(services)
    with IMAP4FromOtherAddress(stack.host, stack.imap_port, timeout=30) as imap:
        assert imap.sock.getsockname()[0] == OTHER_SOURCE
        with pytest.raises(imaplib.IMAP4.error) as refused:
            imap.login(email, PASSWORD)  # the right password, still refused
        assert "TLS" in str(refused.value) or "PRIVACYREQUIRED" in str(refused.value) \
            or "disallowed" in str(refused.value), refused.value
        assert imap.state == "NONAUTH"
    with IMAP4FromOtherAddress(stack.host, stack.imap_port, timeout=30) as imap:
        # AUTHENTICATE PLAIN is the same password in base64: refused as well.
        with pytest.raises(imaplib.IMAP4.error):
            imap.authenticate("PLAIN", lambda _: f"\0{email}\0{PASSWORD}".encode())
        assert imap.state == "NONAUTH"


def test_stack_status_names_the_imaps_listener(stack: Settings, cli: Cli) -> None:
    done = cli("stack", "status", "--json")
    data = json.loads(done.stdout)
    assert data["imaps"] == f"{stack.host}:{stack.imaps_port}"
    with socket.create_connection((stack.host, stack.imaps_port), timeout=10) as raw:
        with stack_tls_context(stack).wrap_socket(raw, server_hostname=stack.host) as tls:
            assert tls.recv(64).startswith(b"* OK")
    text = cli("stack", "status").stdout
    assert f"imaps      {stack.host}:{stack.imaps_port}" in text


def test_dovecot_serves_the_certificate_the_settings_name(fresh_data_dir: Path, tmp_path: Path) -> None:
    from mailgothai.errors import StackError
    from mailgothai.stack import dovecot, tls
    from tests.conftest import stack_settings

    # An operator's own certificate and key, elsewhere than the stack's DATA/tls.
    own = stack_settings(tmp_path / "elsewhere", relay_hostname="imap.example.go.th")
    tls.ensure_self_signed(own)
    settings = stack_settings(fresh_data_dir, tls_cert_file=str(own.tls_cert_path),
                              tls_key_file=str(own.tls_key_path))
    dovecot.start(settings)  # no slapd needed to serve a TLS handshake
    try:
        context = ssl.create_default_context(cafile=str(own.tls_cert_path))
        with socket.create_connection((settings.host, settings.imaps_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="imap.example.go.th") as sock:
                assert served_certificate(sock) == stack_certificate(own)
                assert sock.recv(64).startswith(b"* OK")
        assert not (fresh_data_dir / "tls" / "relay.crt").exists(), "the stack made a certificate of its own"
    finally:
        dovecot.stop(settings)
    missing = settings.replace(tls_cert_file=str(tmp_path / "missing.crt"))
    with pytest.raises(StackError, match="tls_cert_file"):
        dovecot.write_config(missing)
