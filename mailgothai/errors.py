"""The project's own exception tree.

Adapters translate their backend's errors (ldap3, SQLAlchemy, subprocess) into these at
the edge, so services, the CLI and the web only ever see this tree::

    MailGoThaiError
     ├── InvalidInput          a field failed validation: .field, .reason   (CLI exit 2)
     │    └── LimitExceeded    a domain limit would be broken               (CLI exit 2)
     ├── NotFound              the object does not exist (or is not yours)  (CLI exit 1)
     ├── AlreadyExists         an object or address is already taken        (CLI exit 1)
     ├── PermissionDenied      the actor may not do this                    (CLI exit 1)
     ├── BackendError          a component failed or is unreachable         (CLI exit 1)
     │    ├── DirectoryError   slapd (directory/results.py maps LDAP result codes here)
     │    │    ├── ValueChanged          a compare-and-swap lost a race
     │    │    ├── DirectoryUnreachable  refused, reset, or silent past the timeout
     │    │    ├── TransactionRefused    no add of a transaction written: .position, .cause
     │    │    └── NoAnswer              a transaction's connection broke: outcome unknown
     │    ├── StoreError       the SQL store
     │    └── MailStoreError   Dovecot
     └── StackError            starting or stopping the private stack       (CLI exit 1)
"""

from __future__ import annotations


class MailGoThaiError(Exception):
    """Base of every error the project raises on purpose."""


class InvalidInput(MailGoThaiError):
    """A value from a user (form, API, CSV row, CLI option) is not acceptable."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class LimitExceeded(InvalidInput):
    """The change would break one of the domain's limits (accounts, quota pool)."""


class NotFound(MailGoThaiError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} not found: {key}")
        self.kind = kind
        self.key = key


class AlreadyExists(MailGoThaiError):
    def __init__(self, kind: str, key: str, detail: str = "") -> None:
        super().__init__(f"{kind} already exists: {key}" + (f" ({detail})" if detail else ""))
        self.kind = kind
        self.key = key


class PermissionDenied(MailGoThaiError):
    pass


class BackendError(MailGoThaiError):
    pass


class DirectoryError(BackendError):
    pass


class ValueChanged(DirectoryError):
    """A compare-and-swap modify lost a race: the old value was no longer there."""


class DirectoryUnreachable(DirectoryError):
    """No answer from the directory: refused, reset, or silent past the receive timeout."""


class TransactionRefused(DirectoryError):
    """slapd wrote none of a transaction's adds: `position` is the one it refused (None if
    it did not say), `cause` what that add alone would have raised."""

    def __init__(self, position: int | None, cause: Exception) -> None:
        where = f"add {position + 1}" if position is not None else "an add"
        super().__init__(f"transaction refused at {where}: {cause}")
        self.position = position
        self.cause = cause


class NoAnswer(DirectoryError):
    """A transaction's connection broke or fell silent: whether it was written is unknown."""


class StoreError(BackendError):
    pass


class MailStoreError(BackendError):
    pass


class StackError(MailGoThaiError):
    pass
