"""DKIM keys on disk (owner-only files under DATA/dkim) and signing with OpenSSL."""
