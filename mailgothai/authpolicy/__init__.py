"""The auth policy service Dovecot asks about every IMAP login (core/auth_policy.py)."""
