"""TOTP secrets sealed for storage (AES-GCM under a key derived from web_secret_key), each
bound to its login as the cipher's associated data: a sealed secret copied to another
login's row does not open. Admins' and mail users' secrets alike (services/totp.py)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailgothai.errors import StoreError


class TotpBox:
    """Encrypts and decrypts TOTP secrets, each bound to its login (associated data)."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise StoreError("web_secret_key is not set: TOTP secrets cannot be stored "
                             "(`stack up` sets it; or set MAILGOTHAI_WEB_SECRET_KEY)")
        self._aead = AESGCM(hashlib.sha256(b"mailgothai-totp\0" + secret_key.encode("utf-8")).digest())

    def seal(self, login: str, secret: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret.encode("ascii"), login.encode("utf-8"))

    def open(self, login: str, sealed: bytes) -> str:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], login.encode("utf-8")).decode("ascii")
        except (InvalidTag, ValueError) as exc:
            raise StoreError(f"the TOTP secret of {login} cannot be decrypted (web_secret_key changed?)") from exc


def resealer(secret_key: str, old: str, new: str) -> Callable[[bytes], bytes]:
    """What turns a secret sealed for login `old` into the same secret sealed for `new`
    (an account renamed keeps its second factor)."""

    def reseal(sealed: bytes) -> bytes:
        box = TotpBox(secret_key)
        return box.seal(new, box.open(old, sealed))

    return reseal
