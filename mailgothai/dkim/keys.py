"""DKIM private keys: made with `cryptography`, kept as owner-only PEM files under
DATA/dkim/DOMAIN/SELECTOR.pem (directories 0700, files 0600); the public half goes
into the SQL record as the DNS TXT text."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailgothai.core.dkim import dns_record
from mailgothai.core.reasons import Why
from mailgothai.errors import BackendError, InvalidInput

RSA_BITS = 2048
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    algorithm: str
    private_pem: bytes

    def __repr__(self) -> str:
        return f"KeyPair({self.algorithm}, private=***)"

    def load(self) -> PrivateKey:
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
            raise BackendError("DKIM key file holds neither an RSA nor an ed25519 key")
        return key

    @property
    def record(self) -> str:
        return public_record(self.load())


def generate(algorithm: str) -> KeyPair:
    key: PrivateKey
    if algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise InvalidInput("algorithm", Why.NOT_A_KEY_TYPE(value=repr(algorithm)))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return KeyPair(algorithm, pem)


def public_record(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        return dns_record("rsa", der)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return dns_record("ed25519", raw)


class KeyFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, domain: str, selector: str) -> Path:
        return self.root / domain / f"{selector}.pem"

    def save(self, domain: str, selector: str, pair: KeyPair) -> Path:
        """Write the key owner-only, fsynced, and atomically (never half a key)."""
        directory = self.root / domain
        for d in (self.root, directory):
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        final = self.path(domain, selector)
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, pair.private_pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return final

    def load(self, domain: str, selector: str, algorithm: str) -> KeyPair:
        try:
            return KeyPair(algorithm, self.path(domain, selector).read_bytes())
        except OSError as exc:
            raise BackendError(f"DKIM key {selector} of {domain} is unreadable: {exc}") from exc

    def remove(self, domain: str, selector: str) -> None:
        self.path(domain, selector).unlink(missing_ok=True)
