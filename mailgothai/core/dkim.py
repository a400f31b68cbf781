"""DKIM (RFC 6376, RFC 8463) without the cryptography: relaxed/relaxed canonicalization,
header selection, the DKIM-Signature field, the DNS TXT record text.

The relay signs with `mailgothai.dkim.signer`, which hashes and signs what this module
prepares in OpenSSL (`cryptography`); independent verifiers (dkimpy, Perl Mail::DKIM)
check the result in the tests.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

# Headers signed, every instance present (RFC 6376 5.4.1). Those a reader sees or that
# change what the message says are also over-signed (RFC 6376 8.15): listed once more than
# present, absent ones included, so that one added after signing (a Reply-To, a second
# Subject, a Cc, a Content-Type …) breaks the signature.
SIGNED_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to", b"in-reply-to",
                  b"references", b"mime-version", b"content-type", b"content-transfer-encoding",
                  b"list-id", b"list-unsubscribe")
OVERSIGNED = frozenset((b"from", b"reply-to", b"subject", b"to", b"cc", b"date", b"content-type", b"mime-version",
                        b"message-id", b"in-reply-to", b"references"))

_WSP_RUN = re.compile(rb"[ \t]+")
# The runs of WSP that "one space" changes: a tab, or two characters or more. A lone
# space (nearly every match of _WSP_RUN in ordinary text) is left as it is.
_WSP_TO_COLLAPSE = re.compile(rb"\t[ \t]*| [ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_LINE_END = re.compile(rb"\r\n|\r|\n")
ALGORITHMS = {"rsa": b"rsa-sha256", "ed25519": b"ed25519-sha256"}


@dataclass(frozen=True)
class ParsedMessage:
    headers: tuple[tuple[bytes, bytes], ...]  # (lower-case name, whole field incl. name, no final CRLF)
    body: bytes


def to_crlf(data: bytes) -> bytes:
    """Every line end as CRLF: a lone LF and a lone CR too (CR CR LF is two line ends), as
    the SMTP clients that deliver the message (aiosmtplib) write it. The relay applies it
    once, when DATA is accepted, before any check, signature or spool write: the message
    it checks is then the one the next hop reads (a bare CR hid a second From: from the
    checks, which the remote then saw)."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
        return data  # already CRLF throughout (the usual case): no copy
    return _LINE_END.sub(b"\r\n", data)


def parse(message: bytes) -> ParsedMessage:
    """Header fields (continuation lines joined to their field) and the body, CRLF."""
    data = to_crlf(message)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, body = (data[:-2], b"") if data.endswith(b"\r\n") else (data, b"")
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + b"\r\n" + line)
        elif b":" in line:
            fields.append((line.split(b":", 1)[0].strip().lower(), line))
    return ParsedMessage(tuple(fields), body)


def relaxed_header(raw: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-case name, unfolded, runs of WSP as one space, trimmed."""
    name, _, value = raw.partition(b":")
    value = _WSP_RUN.sub(b" ", _FOLD.sub(b"", value)).strip(b" \t")
    return name.strip(b" \t").lower() + b":" + value


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: trailing WSP dropped, WSP runs as one space, trailing empty lines
    dropped; a non-empty body ends with CRLF. `body` is CRLF-normalized."""
    # (a last line without CRLF keeps a trailing space, as dkimpy and Mail::DKIM do;
    # SMTP always delivers the CRLF)
    out = _WSP_TO_COLLAPSE.sub(b" ", body).replace(b" \r\n", b"\r\n").rstrip(b"\r\n")
    return out + b"\r\n" if out else b""


def select_headers(headers: tuple[tuple[bytes, bytes], ...], names: tuple[bytes, ...]) -> list[bytes]:
    """For each name of h=, the last not-yet-used field of that name (RFC 6376 5.4.2)."""
    used: dict[bytes, int] = {}
    out: list[bytes] = []
    for name in names:
        instances = [raw for n, raw in headers if n == name]
        taken = used.get(name, 0)
        if taken < len(instances):
            out.append(instances[len(instances) - 1 - taken])
        used[name] = taken + 1
    return out


def header_names(parsed: ParsedMessage) -> tuple[bytes, ...]:
    """h=: each signed header once per instance present, the over-signed ones once more."""
    present: dict[bytes, int] = {}
    for name, _ in parsed.headers:
        present[name] = present.get(name, 0) + 1
    names: list[bytes] = []
    for name in SIGNED_HEADERS:
        names.extend([name] * (present.get(name, 0) + (name in OVERSIGNED)))
    return tuple(names)


def _fold(tags: list[bytes]) -> bytes:
    """Tags joined by '; ', folded before a tag when a line would pass 76 characters."""
    lines: list[bytes] = [b"DKIM-Signature:"]
    for n, tag in enumerate(tags):
        piece = b" " + tag + (b";" if n < len(tags) - 1 else b"")
        last = n == len(tags) - 1  # b= starts a line of its own: its value fills it
        if last or (len(lines[-1]) + len(piece) > 76 and len(lines[-1]) > 1):
            lines.append(b"\t" + piece[1:])
        else:
            lines[-1] += piece
    return b"\r\n".join(lines)


@dataclass(frozen=True)
class SigningInput:
    """What the key signs, and how to finish the field once it has."""

    unsigned_field: bytes  # the DKIM-Signature field with an empty b=
    data: bytes  # the canonicalized signed headers + the field itself (RFC 6376 3.7)

    def finish(self, signature: bytes) -> bytes:
        """The complete header field, CRLF-terminated, b= folded into 64-char pieces."""
        b64 = base64.b64encode(signature)
        chunks = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        return self.unsigned_field + b"\r\n\t".join(chunks) + b"\r\n"


def signing_input(message: bytes, *, domain: str, selector: str, algorithm: str, timestamp: int,
                  body_hash: bytes, parsed: ParsedMessage | None = None) -> SigningInput:
    """The DKIM-Signature field to sign for `message`. `body_hash` is the SHA-256 of
    `relaxed_body(parsed.body)` (computed by the caller, with whatever hashing it has)."""
    parsed = parsed or parse(message)
    names = header_names(parsed)
    tags = [b"v=1", b"a=" + ALGORITHMS[algorithm], b"c=relaxed/relaxed", b"d=" + domain.encode("ascii"),
            b"s=" + selector.encode("ascii"), b"t=%d" % timestamp, b"h=" + b":".join(names),
            b"bh=" + base64.b64encode(body_hash), b"b="]
    field = _fold(tags)
    signed = b"".join(relaxed_header(raw) + b"\r\n" for raw in select_headers(parsed.headers, names))
    return SigningInput(field, signed + relaxed_header(field))


def dns_record(algorithm: str, public_key: bytes) -> str:
    """The TXT record text: `public_key` is DER SubjectPublicKeyInfo (rsa) or the raw
    32 bytes (ed25519)."""
    k = "rsa" if algorithm == "rsa" else "ed25519"
    return f"v=DKIM1; k={k}; p={base64.b64encode(public_key).decode('ascii')}"


def dns_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def split_txt(record: str) -> list[str]:
    """The record as the ≤255-character strings a TXT record is made of."""
    return [record[i:i + 255] for i in range(0, len(record), 255)]


SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
