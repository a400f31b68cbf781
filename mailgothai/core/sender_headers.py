"""Who a message says it is from: the addresses of its `From:` and `Sender:` fields, read
with the standard library's RFC 5322 parser (`email.headerregistry`), and the domains a
reader would see in them, display names, comments and RFC 2047 encoded words included.

No I/O: the relay decides with `core/policy.py` which of these domains are hosted here.
"""

from __future__ import annotations

import binascii
import functools
import quopri
import re
import unicodedata
from dataclasses import dataclass
from email import errors, policy

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.errors import InvalidInput

FIELDS = {b"from": "From:", b"sender": "Sender:"}
MAX_ADDRESSES = 100  # per message; a real From:/Sender: holds a handful
_NOT_IN_A_DOMAIN = "<>()[]\",;:\\'`"  # and U+FFFD, what an undecodable byte shows as
_NOT_IN_A_DOMAIN += "\ufffd"


@dataclass(frozen=True)
class SenderField:
    """One `From:` or `Sender:` field. `problem` is why it cannot be read ("" if it can):
    then `addresses` may be incomplete and the field must not be trusted."""

    header: str  # "From:" | "Sender:"
    addresses: tuple[str, ...]  # mailbox addresses, normalized where the local part allows (groups expanded)
    shown_domains: frozenset[str]  # domains of address-like text anywhere in the field as displayed
    problem: str = ""

    @property
    def domains(self) -> frozenset[str]:
        """Every domain the field names or shows."""
        return frozenset(split_address(a)[1] for a in self.addresses) | self.shown_domains


def read_sender_fields(headers: tuple[tuple[bytes, bytes], ...]) -> tuple[SenderField, ...]:
    """The `From:` and `Sender:` fields of a message, in order. `headers` is
    `core.dkim.parse(message).headers`: (lower-case name, the whole raw field)."""
    out = []
    count = 0
    for name, raw in headers:
        label = FIELDS.get(name)
        if label is None:
            continue
        field = _read(label, raw.split(b":", 1)[1])
        count += len(field.addresses) + len(field.shown_domains)
        if count > MAX_ADDRESSES:
            field = SenderField(label, field.addresses, field.shown_domains,
                                f"more than {MAX_ADDRESSES} addresses")
        out.append(field)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _read(label: str, value: bytes) -> SenderField:
    """One field's value (cached: the stdlib parser costs ~0.2 ms a field, and most mail
    comes from senders seen moments before; a SenderField is immutable)."""
    text = value.replace(b"\r\n", b"").decode("utf-8", "surrogateescape").strip()
    shown = _shown_domains(text)
    try:
        parsed = policy.default.header_factory(label[:-1], text)
        mailboxes = [(a.username, a.domain, a.addr_spec) for a in parsed.addresses]
        defects = [d for d in parsed.defects if isinstance(d, errors.InvalidHeaderDefect)]
    except Exception as exc:  # the stdlib parser raises IndexError and friends on some garbage
        return SenderField(label, (), shown, f"cannot be parsed ({type(exc).__name__})")
    if defects:
        return SenderField(label, (), shown, _one_line(str(defects[0])) or "malformed")
    addresses: list[str] = []
    for username, domain, addr_spec in mailboxes:
        if not username or not domain:
            return SenderField(label, tuple(addresses), shown, f"an address without a domain: {addr_spec}")
        try:
            addresses.append(normalize_address(f"{username}@{domain}", label))
        except InvalidInput as exc:  # a local part this service never gives out (quoted, UTF-8):
            try:  # kept as given, so it is nobody's own here, and its domain still counts
                addresses.append(f"{username}@{normalize_domain(domain, label)}")
            except InvalidInput:
                return SenderField(label, tuple(addresses), shown, f"{addr_spec}: {exc.reason}")
    return SenderField(label, tuple(addresses), shown)


def _shown_domains(text: str) -> frozenset[str]:
    """Domains of every address-like word a mail program may show for this field: in
    display names, comments, and RFC 2047 encoded words (decoded even where RFC 2047
    forbids them, since some programs do). Words that are not domains are ignored.
    The text is read as a reader sees it (`_as_seen`): without the characters that show
    as nothing (U+200E, U+200D, U+FEFF, tag characters …), with look-alike at signs."""
    found = set()
    candidates = (text,) if "=?" not in text else (_decoded(text, joined=True), _decoded(text, joined=False), text)
    for candidate in candidates:
        candidate = _as_seen(candidate)
        for part in candidate.split("@")[1:]:
            word = part.strip().split()[0] if part.strip() else ""
            for stop in _NOT_IN_A_DOMAIN:
                word = word.split(stop)[0]
            word = word.strip(".")
            try:
                found.add(normalize_domain(word, "domain"))
            except InvalidInput:
                continue
    return frozenset(found)


# An RFC 2047 encoded word, and the white space after it when another one follows (a
# reader shows adjacent encoded words as one text, RFC 2047 6.2; one that cannot decode a
# word may show them apart: both are read).
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([qQbB])\?([^?\s]*)\?=(\s+(?==\?[^?\s]*\?[qQbB]\?[^?\s]*\?=))?")


def _decoded(text: str, *, joined: bool) -> str:
    """`text` with each encoded word decoded on its own, errors replaced: one word that
    cannot be decoded (bad bytes, an unknown charset) leaves the others readable.
    `joined`: the white space between adjacent encoded words dropped."""
    def decode(match: re.Match[str]) -> str:
        return _decode_word(match.group(1).split("*")[0], match.group(2).lower(), match.group(3)) + (
            "" if joined else match.group(4) or "")
    return _ENCODED_WORD.sub(decode, text)


def _decode_word(charset: str, encoding: str, payload: str) -> str:
    try:
        if encoding == "q":
            raw = quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)
        else:
            raw = binascii.a2b_base64(payload.encode("ascii", "replace") + b"==")
    except (binascii.Error, ValueError):
        return ""
    try:
        return raw.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know: what UTF-8 makes of it
        return raw.decode("utf-8", "replace")


# Code points a reader's screen shows as nothing that are not format characters (Cf):
# Unicode's other default-ignorable ones (combining grapheme joiner, Hangul fillers,
# variation selectors, the rest of the tag plane).
_IGNORABLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x3164, 0x3164),
              (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0000, 0xE0FFF))
_AT_SIGNS = str.maketrans({"\uff20": "@", "\ufe6b": "@"})  # fullwidth and small commercial at


def _as_seen(text: str) -> str:
    """`text` as a reader sees it: without format characters (Cf), unassigned code points
    (Cn) and the other default-ignorable ones, and with look-alike at signs as '@'."""
    if text.isascii():
        return text
    return "".join(c for c in text.translate(_AT_SIGNS) if unicodedata.category(c) not in ("Cf", "Cn")
                   and not any(low <= ord(c) <= high for low, high in _IGNORABLE))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:120]
