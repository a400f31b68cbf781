"""The work a hashing process does for the importer: argon2id for a batch of passwords.

Its own small module so that a worker process started with "spawn" imports only the core
(argon2-cffi), not the directory, SQL and service layers.
"""

from __future__ import annotations

from mailgothai.core.passwords import Argon2Params, hash_password


def hash_many(params: Argon2Params, passwords: list[str]) -> list[str]:
    return [hash_password(p, params) for p in passwords]
