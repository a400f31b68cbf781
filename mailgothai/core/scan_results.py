"""What the relay reads out of rspamd's scan (core/spam.py's Scan) and writes about it into
a message: whether the envelope sender's domain authenticated (for the allow lists),
the Authentication-Results field (RFC 8601) from rspamd's SPF, DKIM and DMARC symbols,
the X-Spam fields of a delivered message, and the removal of any X-Spam field that came
from outside (nobody else may forge or hide the verdict). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from mailgothai.core.spam import Scan

SPAM_PREFIX = b"x-spam"
MAX_SYMBOLS_FIELD = 900  # characters of X-Spam-Symbols (the field folds; lines stay short)

# rspamd's symbol -> the RFC 8601 result (modules spf, dkim, dmarc)
SPF_RESULTS = (("R_SPF_ALLOW", "pass"), ("R_SPF_FAIL", "fail"), ("R_SPF_SOFTFAIL", "softfail"),
               ("R_SPF_NEUTRAL", "neutral"), ("R_SPF_DNSFAIL", "temperror"), ("R_SPF_PERMFAIL", "permerror"),
               ("R_SPF_NA", "none"))
DKIM_RESULTS = (("R_DKIM_ALLOW", "pass"), ("R_DKIM_REJECT", "fail"), ("R_DKIM_TEMPFAIL", "temperror"),
                ("R_DKIM_PERMFAIL", "permerror"))
DMARC_RESULTS = (("DMARC_POLICY_ALLOW", "pass"), ("DMARC_POLICY_ALLOW_WITH_FAILURES", "pass"),
                 ("DMARC_POLICY_REJECT", "fail"), ("DMARC_POLICY_QUARANTINE", "fail"),
                 ("DMARC_POLICY_SOFTFAIL", "fail"), ("DMARC_BAD_POLICY", "permerror"),
                 ("DMARC_DNSFAIL", "temperror"), ("DMARC_NA", "none"))


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


def _clean(text: str, limit: int = 255) -> str:
    """A value safe inside a header field: printable, no ';' or parentheses, bounded."""
    return "".join(c for c in text if c.isprintable() and c not in ";()\"\\" and not c.isspace())[:limit]


def _option_domain(option: str) -> str:
    """The domain an option of rspamd's DMARC symbols starts with ("example.org",
    "example.org : query timed out")."""
    words = option.split()
    return words[0].partition(":")[0].lower().rstrip(".") if words else ""


def dkim_signers(scan: Scan, symbol: str) -> list[tuple[str, str]]:
    """(domain, selector) of each signature rspamd put under `symbol` (its options are
    `domain:s=selector` or `domain:selector`; a selector may be missing)."""
    out = []
    for option in scan.options.get(symbol, ()):
        domain, _, rest = option.partition(":")
        out.append((domain.strip().lower().rstrip("."), rest.strip().removeprefix("s=")))
    return out


def sender_authenticated(scan: Scan, sender: str) -> bool:
    """The envelope sender's domain passed SPF, a DKIM signature of that domain verified,
    or DMARC passed for that domain. Only then may its allow-list entry count."""
    domain = _domain(sender)
    if not domain:
        return False
    if "R_SPF_ALLOW" in scan.symbols:  # SPF is about the envelope sender's domain itself
        return True
    if any(d == domain for d, _ in dkim_signers(scan, "R_DKIM_ALLOW")):
        return True
    dmarc = scan.options.get("DMARC_POLICY_ALLOW", ())
    return bool(dmarc) and _option_domain(dmarc[0]) == domain


def _first(scan: Scan, table: tuple[tuple[str, str], ...], default: str) -> tuple[str, str]:
    for symbol, result in table:
        if symbol in scan.symbols:
            return symbol, result
    return "", default


def authentication_results(authserv_id: str, scan: Scan, mail_from: str) -> bytes:
    """The relay's Authentication-Results field from rspamd's findings (CRLF, folded)."""
    parts = []
    for symbol, result in DKIM_RESULTS:
        for domain, selector in dkim_signers(scan, symbol):
            part = f"dkim={result} header.d={_clean(domain)}"
            parts.append(part + (f" header.s={_clean(selector)}" if selector else ""))
    if not parts:
        parts.append("dkim=none")
    _, spf = _first(scan, SPF_RESULTS, "none")
    parts.append(f"spf={spf} smtp.mailfrom={_clean(mail_from, 320) or '<>'}" if _domain(mail_from) else f"spf={spf}")
    symbol, dmarc = _first(scan, DMARC_RESULTS, "none")
    found = scan.options.get(symbol, ()) if symbol else ()
    from_domain = _clean(_option_domain(found[0])) if found else ""
    parts.append(f"dmarc={dmarc} header.from={from_domain}" if from_domain else f"dmarc={dmarc}")
    return ("Authentication-Results: " + authserv_id + ";\r\n\t" + ";\r\n\t".join(parts) + "\r\n").encode()


def symbols_text(symbols: Mapping[str, float], limit: int = MAX_SYMBOLS_FIELD) -> str:
    """`NAME(score), ...` of the symbols that scored, highest first, cut at `limit` characters."""
    ranked = sorted(((n, s) for n, s in symbols.items() if s), key=lambda item: (-item[1], item[0]))
    out: list[str] = []
    used = 0
    for name, score in ranked:
        text = f"{_clean(name, 64)}({score:.2f})"
        if used + len(text) + 2 > limit:
            out.append("...")
            break
        out.append(text)
        used += len(text) + 2
    return ",\r\n\t".join(out)


def verdict_headers(spam: bool, scan: Scan) -> bytes:
    """X-Spam: Yes|No and the score; the symbols too for spam (what the reader and the
    operator's Sieve script see)."""
    lines = [f"X-Spam: {'Yes' if spam else 'No'}", f"X-Spam-Score: {scan.score:.2f}"]
    if spam:
        text = symbols_text(scan.symbols)
        if text:
            lines.append(f"X-Spam-Symbols: {text}")
    return ("\r\n".join(lines) + "\r\n").encode()


UNSCANNED = b"X-Spam-Status: unscanned\r\n"


def without_spam_headers(message: bytes) -> bytes:
    """`message` (CRLF) without any X-Spam* field (and its continuation lines); the
    message itself when it has none (no copy)."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if SPAM_PREFIX not in head.lower():
        return message
    out: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):  # a continuation belongs to the field before it
            if not dropping:
                out.append(line)
            continue
        dropping = line.split(b":", 1)[0].strip().lower().startswith(SPAM_PREFIX) and b":" in line
        if not dropping:
            out.append(line)
    return b"\r\n".join(out) + sep + body
