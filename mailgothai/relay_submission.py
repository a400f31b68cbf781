"""System mail — the web's password reset links and recovery address confirmations, the
expiry job's warnings (issue 20) — handed to the relay the way Dovecot's Sieve mail is when the relay is elsewhere
(stack/sieve_sendmail.py): the submission listener over STARTTLS, AUTH PLAIN with the
Sieve system login (core/sieve_mail.SIEVE_LOGIN and the stack-made `sieve_submit_secret`)
and the account as the authorization identity. The relay then takes the message as that
account's own: only for an active account, envelope sender <>, DKIM-signed for its
domain, counted in its hourly limit, queued and retried like any other mail.

The web and the CLI hold the directory's application password already (they set
passwords); the secret gives them nothing more than sending mail in a user's name. The relay's certificate
is pinned (the stack's, `tls_cert_file`): the secret is never sent to anything else that
took the port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl

from mailgothai.core.sieve_mail import SIEVE_LOGIN
from mailgothai.errors import MailGoThaiError
from mailgothai.settings import Settings

HELO = "system.localhost"


class SubmissionFailed(MailGoThaiError):
    pass


class RelaySubmission:
    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        host, port = settings.host, settings.submission_port
        if settings.sieve_submission:  # a node whose relay is elsewhere
            name, _, number = settings.sieve_submission.rpartition(":")
            host, port = name.strip("[]"), int(number)
        self.host, self.port, self.timeout = host, port, timeout
        self._secret = str(settings.sieve_submit_secret)
        self._cert_path = settings.tls_cert_path

    def __repr__(self) -> str:
        return f"RelaySubmission({self.host}:{self.port})"

    def _pinned(self) -> str:
        """The SHA-256 of the relay's own certificate: the first of the file (a chain file
        holds the intermediates after it)."""
        pem = self._cert_path.read_text(encoding="ascii")
        start = pem.index(ssl.PEM_HEADER)
        end = pem.index(ssl.PEM_FOOTER, start) + len(ssl.PEM_FOOTER)
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem[start:end])).hexdigest()

    def send(self, account: str, recipients: list[str], message: bytes) -> None:
        if not self._secret:
            raise SubmissionFailed("sieve_submit_secret is not set (`stack up` makes it): no system mail")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # checked below against the pinned certificate
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            pinned = self._pinned()
            with smtplib.SMTP(self.host, self.port, local_hostname=HELO, timeout=self.timeout) as smtp:
                smtp.ehlo(HELO)
                smtp.starttls(context=context)
                sock = smtp.sock
                assert isinstance(sock, ssl.SSLSocket)
                der = sock.getpeercert(binary_form=True) or b""
                if not hmac.compare_digest(hashlib.sha256(der).hexdigest(), pinned):
                    raise SubmissionFailed("the relay's certificate is not the stack's: secret not sent")
                smtp.ehlo(HELO)
                token = base64.b64encode(f"{account}\0{SIEVE_LOGIN}\0{self._secret}".encode()).decode()
                code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
                if code != 235:
                    raise SubmissionFailed(f"the relay refused the login for {account}: {code} {reply!r}")
                smtp.sendmail("", recipients, message)
        except (OSError, ValueError, smtplib.SMTPException) as exc:
            raise SubmissionFailed(f"handing mail for {account} to the relay at {self.host}:{self.port}: {exc}") \
                from exc
