"""Delivery status notifications (RFC 3464): the bounce sent to a message's sender
when some of its recipients failed for good or the message expired in the queue."""

from __future__ import annotations

import email.utils
import re
import secrets
from dataclasses import dataclass

from mailgothai.core.dkim import to_crlf

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
HEADERS_RETURNED = 64 * 1024  # at most this much of the original's header is sent back


@dataclass(frozen=True)
class FailedRecipient:
    original: str  # the RCPT TO as given
    final: str  # the address delivery was tried for
    reply: str  # the last reply, e.g. "550 5.1.1 no such user"
    expired: bool = False


def status_of(reply: str, expired: bool) -> str:
    if expired:
        return "4.4.7"
    found = _STATUS.search(reply)
    if found and found.group(1)[0] == "5":
        return found.group(1)
    return "5.0.0"


def _header_block(message: bytes) -> bytes:
    data = to_crlf(message)
    head = data.split(b"\r\n\r\n", 1)[0]
    return head[:HEADERS_RETURNED] + b"\r\n"


def build_dsn(*, reporting_mta: str, sender: str, queue_id: str, arrival: float, now: float,
              original: bytes, failed: list[FailedRecipient]) -> bytes:
    """The DSN message, addressed to `sender`, from the mailer-daemon of `reporting_mta`."""
    boundary = f"=_dsn_{secrets.token_hex(12)}"
    expired = any(f.expired for f in failed)
    lines = ["This is the mail system at " + reporting_mta + ".", "",
             "Your message could not be delivered to these recipients"
             + (" (it stayed in the queue too long):" if expired else ":"), ""]
    for f in failed:
        lines.append(f"  <{f.original}>" + (f" (delivered as <{f.final}>)" if f.final != f.original else ""))
        lines.append(f"      {f.reply}")
    human = "\r\n".join(lines) + "\r\n"
    per_message = (f"Reporting-MTA: dns; {reporting_mta}\r\n"
                   f"X-MailGoThai-Queue-ID: {queue_id}\r\n"
                   f"Arrival-Date: {email.utils.formatdate(arrival)}\r\n")
    per_recipient = []
    for f in failed:
        code = status_of(f.reply, f.expired)
        per_recipient.append(
            f"Original-Recipient: rfc822; {f.original}\r\n"
            f"Final-Recipient: rfc822; {f.final}\r\n"
            f"Action: failed\r\n"
            f"Status: {code}\r\n"
            f"Diagnostic-Code: smtp; {_one_line(f.reply)}\r\n"
            f"Last-Attempt-Date: {email.utils.formatdate(now)}\r\n")
    status_part = per_message + "\r\n" + "\r\n".join(per_recipient)
    head = (f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
            f"To: <{sender}>\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\n"
            f"Date: {email.utils.formatdate(now)}\r\n"
            f"Message-ID: <{queue_id}.{secrets.token_hex(6)}@{reporting_mta}>\r\n"
            f"Auto-Submitted: auto-replied\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n")
    body = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{human}\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{status_part}\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n")
    return (head + "\r\n" + body).encode("utf-8") + _header_block(original) + f"\r\n--{boundary}--\r\n".encode()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]
