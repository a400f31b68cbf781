"""Signing a message: canonicalization from `core.dkim`, hashing and the RSA or
ed25519 step in OpenSSL through `cryptography` (dkimpy's pure-Python RSA is ~20×
slower; see STACK-NOTES)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from mailgothai.core import dkim as canon
from mailgothai.dkim.keys import PrivateKey


@dataclass(frozen=True)
class SigningKey:
    domain: str
    selector: str
    algorithm: str  # rsa | ed25519
    key: PrivateKey

    def __repr__(self) -> str:
        return f"SigningKey({self.domain}, {self.selector}, {self.algorithm})"


def sign(message: bytes, keys: list[SigningKey], now: int | None = None,
         parsed: canon.ParsedMessage | None = None) -> bytes:
    """DKIM-Signature fields (one per key, CRLF-terminated) to put on top of `message`
    (`parsed`: `core.dkim.parse(message)`, if the caller has it already)."""
    if not keys:
        return b""
    parsed = parsed or canon.parse(message)
    body_hash = hashlib.sha256(canon.relaxed_body(parsed.body)).digest()
    stamp = int(time.time()) if now is None else now
    fields = []
    for k in keys:
        prepared = canon.signing_input(message, domain=k.domain, selector=k.selector, algorithm=k.algorithm,
                                       timestamp=stamp, body_hash=body_hash, parsed=parsed)
        if isinstance(k.key, rsa.RSAPrivateKey):
            signature = k.key.sign(prepared.data, padding.PKCS1v15(), hashes.SHA256())
        else:
            assert isinstance(k.key, ed25519.Ed25519PrivateKey)
            signature = k.key.sign(hashlib.sha256(prepared.data).digest())  # RFC 8463: sign the hash
        fields.append(prepared.finish(signature))
    return b"".join(fields)
