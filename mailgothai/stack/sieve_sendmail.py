"""Dovecot's `sendmail_path` on a node whose relay is elsewhere (`sieve_submission`): how
mail made by Sieve (out-of-office replies, `redirect`) leaves — through that relay's
submission listener, as any user's mail does. (When the relay shares the data directory,
the default, the sendmail script drops the message into the relay's pickup directory
instead, without starting Python: deploy/dovecot/sieve-pickup.sh, relay/sieve_pickup.py.)

Dovecot's LMTP runs this as its mail user, once per message Sieve sends:

    sieve-sendmail --user USER -i -f SENDER -- RECIPIENT...

(`--user %u` is in sendmail_path; Dovecot adds the rest.) It reads the message on standard
input and hands it to the relay over STARTTLS with AUTH PLAIN: the authentication identity
is core/sieve_mail.py's SIEVE_LOGIN with the stack-made secret (settings
`sieve_submit_secret`), the authorization identity is USER. The relay then treats the message as USER's: counted in
USER's hourly limit, DKIM-signed for USER's domain, envelope sender USER's or <>
(relay/handler.py). The secret is in a file only the mail user (and root) can read
(stack/sieve.py writes it, with the relay's address and the login name, and copies this
file beside it); without it, the relay refuses the login like any wrong password.
The relay's certificate is pinned (its SHA-256 in the same file): nothing that took the
port while the relay was down learns the secret.

Standard library only, run with `python -I` (the system's Python: the project's may be
where the mail user cannot go): it starts in a few tens of milliseconds.
Exit codes as sendmail's (sysexits): 0 sent (or an out-of-office reply the relay refused,
dropped: see main), 75 try again later, 69 refused, 64 usage. Dovecot 2.3 takes every
non-zero exit as a temporary failure: LMTP then answers 451 and the relay delivers the
incoming message again later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import smtplib
import ssl
import sys

EX_USAGE, EX_UNAVAILABLE, EX_TEMPFAIL = 64, 69, 75
HELO = "sieve.localhost"
AUTO_REPLY = re.compile(rb"^Auto-Submitted:[ \t]*auto-replied", re.IGNORECASE | re.MULTILINE)


def parse(argv: list[str]) -> tuple[str, str, str, list[str]]:
    """(config file, user, envelope sender, recipients) from sendmail-style arguments."""
    config = user = sender = ""
    recipients: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            config = next(args, "")
        elif arg == "--user":
            user = next(args, "")
        elif arg == "-f":
            sender = next(args, "")
        elif arg.startswith("-f") and len(arg) > 2:
            sender = arg[2:]
        elif arg == "--":
            recipients.extend(args)
        elif arg.startswith("-"):
            continue  # -i, -oi, ...: the message ends at the end of input anyway
        else:
            recipients.append(arg)
    if sender in ("<>", "<", ">"):
        sender = ""
    return config, user, sender.strip("<>"), recipients


def _send(settings: dict[str, str], user: str, sender: str, recipients: list[str], message: bytes) -> None:
    # No CA store (create_default_context loads it: tens of milliseconds on every reply): the
    # certificate is checked below against the pinned one.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # a name of its own: without one smtplib asks the resolver for this host's (getfqdn)
    with smtplib.SMTP(settings["host"], int(settings["port"]), local_hostname=HELO, timeout=60) as smtp:
        smtp.ehlo(HELO)
        smtp.starttls(context=context)
        sock = smtp.sock
        assert isinstance(sock, ssl.SSLSocket)
        der = sock.getpeercert(binary_form=True) or b""
        if not hmac.compare_digest(hashlib.sha256(der).hexdigest(), settings["certificate_sha256"]):
            raise smtplib.SMTPException("the relay's certificate is not the stack's: secret not sent")
        smtp.ehlo(HELO)
        token = base64.b64encode(f"{user}\0{settings['login']}\0{settings['secret']}".encode()).decode()
        code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)
        smtp.sendmail(sender, recipients, message)


def main(argv: list[str] | None = None) -> int:
    config, user, sender, recipients = parse(sys.argv[1:] if argv is None else argv)
    if not config or not user or not recipients:
        print("usage: sieve-sendmail --config FILE --user USER [-f SENDER] -- RECIPIENT...", file=sys.stderr)
        return EX_USAGE
    try:
        with open(config, encoding="utf-8") as fh:
            settings = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"sieve-sendmail: cannot read {config}: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    message = sys.stdin.buffer.read()
    try:
        _send(settings, user, sender, recipients, message)
    except smtplib.SMTPResponseException as exc:
        print(f"sieve-sendmail: relay refused: {exc.smtp_code} {exc.smtp_error!r}", file=sys.stderr)
        return EX_UNAVAILABLE if 500 <= exc.smtp_code < 600 else EX_TEMPFAIL
    except smtplib.SMTPRecipientsRefused as exc:
        print(f"sieve-sendmail: relay refused the recipients: {exc.recipients!r}", file=sys.stderr)
        if AUTO_REPLY.search(message.split(b"\n\r\n", 1)[0].split(b"\n\n", 1)[0]):
            # An out-of-office reply refused (e.g. 452, the user's hourly limit): dropped.
            # Dovecot 2.3 takes every failure of the sendmail program as temporary and would
            # refuse the incoming message itself until the limit passes.
            print("sieve-sendmail: out-of-office reply dropped", file=sys.stderr)
            return 0
        # A redirect: the delivery is refused for now and the relay tries it again later,
        # so the message is neither lost nor sent past the limit.
        return EX_TEMPFAIL
    except (OSError, smtplib.SMTPException) as exc:
        print(f"sieve-sendmail: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    sys.exit(main())
