"""The quarantine (issue 18), the values only: a message the relay kept instead of
delivering (its score over the domain's quarantine threshold), each of its recipients
with a state, and what is shown of it (headers and a text preview, no HTML run). No I/O:
the relay writes it (relay/quarantine.py), the SQL store indexes it
(store/quarantine.py), the services list, release and delete it (services/quarantine.py).

A recipient goes held -> release_requested (a service asked; a conditional UPDATE, so two
clicks release once) -> released (the relay of the message's node spooled it under
`release_queue_id`), or held -> deleted.
"""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import enum
import html.parser
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

SUBJECT_MAX = 255
PREVIEW_MAX = 4000  # characters of the text shown
SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID", "Return-Path",
                 "Authentication-Results", "X-Spam", "Received")
MESSAGE_ID = re.compile(r"[0-9a-f]{22}")  # spool.new_queue_id()'s form


class State(enum.Enum):
    HELD = "held"
    RELEASE_REQUESTED = "release_requested"
    RELEASED = "released"
    DELETED = "deleted"


WAITING = (State.HELD, State.RELEASE_REQUESTED)  # the file is still needed for these


@dataclass(frozen=True)
class Recipient:
    id: int
    address: str  # the mailbox it goes to (the spool Target's address)
    original: str  # the RCPT TO it came from
    local: bool
    state: State = State.HELD
    released_at: datetime | None = None
    released_by: str | None = None
    # The hosted domain whose admins see this recipient: the domain the RCPT TO named, or,
    # for an RCPT TO at an alias domain, the domain that one stands for (the relay knows
    # which when it keeps the message). Not given: the RCPT TO's domain.
    domain: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "domain", (self.domain or self.original.rpartition("@")[2]).lower())


@dataclass(frozen=True)
class Held:
    """One quarantined message and its recipients (as far as the reader may see them)."""

    id: str
    node: str  # the relay that keeps its file (settings.relay_hostname)
    domain: str  # the domain whose policy quarantined it (its recipients' domains: Recipient.domain)
    sender: str
    subject: str
    score: float
    symbols: Mapping[str, float]
    size: int
    received_at: datetime
    expires_at: datetime
    recipients: tuple[Recipient, ...] = field(default_factory=tuple)

    def only(self, recipients: tuple[Recipient, ...]) -> Held:
        return Held(self.id, self.node, self.domain, self.sender, self.subject, self.score, self.symbols,
                    self.size, self.received_at, self.expires_at, recipients)

    @property
    def waiting(self) -> bool:
        return any(r.state in WAITING for r in self.recipients)

    def as_dict(self) -> dict[str, object]:
        """What the CLI's --json and the API show."""
        return {"id": self.id, "node": self.node, "domain": self.domain, "sender": self.sender or "<>",
                "subject": self.subject, "score": self.score, "symbols": dict(self.symbols), "size": self.size,
                "received_at": self.received_at.isoformat(), "expires_at": self.expires_at.isoformat(),
                "recipients": [{"address": r.address, "original": r.original, "id": r.id, "state": r.state.value,
                                "released_at": r.released_at.isoformat() if r.released_at else None,
                                "released_by": r.released_by} for r in self.recipients]}


def release_queue_id(message_id: str, recipient_id: int) -> str:
    """The spool's queue id of one recipient's release: the same every time, so the relay
    that finds it already spooled only marks it (never spools it twice). Hex, longer than
    a queue id the relay gives (22), so it meets none of them."""
    return f"{message_id}{recipient_id:010x}"


SUBJECT = re.compile(rb"^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def subject_of(message: bytes) -> str:
    """The Subject, decoded (RFC 2047, or raw UTF-8 / TIS-620 bytes), on one line, bounded
    to SUBJECT_MAX characters."""
    head = re.split(rb"\r?\n\r?\n", message, maxsplit=1)[0]
    found = SUBJECT.search(head)
    if found is None:
        return ""
    raw = re.sub(rb"\r?\n(?=[ \t])", b"", found.group(1))
    text = _text(raw)
    try:
        text = str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        pass
    return " ".join(text.split())[:SUBJECT_MAX]


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp874", "replace")  # Thai mail of older systems


def _unescaped(value: str) -> str:
    """A header value the email package read with 8-bit bytes as surrogates, as text."""
    try:
        return _text(value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return value


@dataclass(frozen=True)
class Preview:
    headers: tuple[tuple[str, str], ...]
    text: str  # the first text part (an HTML part as its text only), bounded
    attachments: tuple[str, ...]  # file names


def preview(message: bytes, limit: int = PREVIEW_MAX) -> Preview:
    """What a person may look at safely: some headers (decoded), the text, attachments' names."""
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(message)
    headers: list[tuple[str, str]] = []
    for name in SHOWN_HEADERS:
        for value in parsed.get_all(name, []):
            headers.append((name, " ".join(_unescaped(str(value)).split())[:1000]))
    text, attachments = "", []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            attachments.append(str(filename)[:255])
            continue
        kind = part.get_content_type()
        if text or kind not in ("text/plain", "text/html"):
            continue
        try:
            body = part.get_content()
        except (LookupError, ValueError, AssertionError):
            body = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")  # type: ignore[union-attr]
        text = html_text(str(body)) if kind == "text/html" else str(body)
    return Preview(tuple(headers), text[:limit], tuple(attachments))


class _Text(html.parser.HTMLParser):
    SKIP = frozenset({"script", "style", "head", "title"})
    BLOCKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """An HTML body as its text (no tag, no script, no link followed)."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)
