"""The project's own data set generator (`python -m mailgothai.datagen --help`)."""

from mailgothai.datagen.generate import (
    CRYPT_HASH,
    CRYPT_PASSWORD,
    DOMAIN_HEADER,
    HEADER,
    Manifest,
    Spec,
    generate,
    pool_password,
)

__all__ = ["CRYPT_HASH", "CRYPT_PASSWORD", "DOMAIN_HEADER", "HEADER", "Manifest", "Spec", "generate",
           "pool_password"]
