"""The project's own exception tree.

Adapters translate their backend's errors (ldap3, SQLAlchemy, subprocess) into these at
the edge, so services, the CLI and the web only ever see this tree::

    MailGoThaiError
     ├── InvalidInput          a field failed validation: .field, .why      (CLI exit 2)
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

Every error has a `code` a program can rely on: an InvalidInput's is its reason's
(core/reasons.py, the one table of reasons and their templates), the others' their kind.
"""

from __future__ import annotations

from typing import ClassVar

from mailgothai.core.reasons import Reason, Term, Why


class MailGoThaiError(Exception):
    """Base of every error the project raises on purpose."""

    family: ClassVar[str] = "error"

    @property
    def code(self) -> str:
        """What went wrong, for a program: the family of error, or an InvalidInput's reason code."""
        return self.family


class InvalidInput(MailGoThaiError):
    """A value from a user (form, API, CSV row, CLI option) is not acceptable: which
    field, and why (a Reason of core/reasons.py; `reason` is its English text)."""

    def __init__(self, field: str, why: Reason) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why

    @property
    def reason(self) -> str:
        return str(self.why)

    @property
    def code(self) -> str:
        return self.why.code


class LimitExceeded(InvalidInput):
    """The change would break one of the domain's limits (accounts, quota pool)."""


class NotFound(MailGoThaiError):
    family: ClassVar[str] = "not_found"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} not found: {key}")
        self.kind = kind
        self.key = key

    @property
    def why(self) -> Reason:
        return Why.NOT_FOUND(kind=Term(self.kind), key=self.key)


class AlreadyExists(MailGoThaiError):
    family: ClassVar[str] = "already_exists"

    def __init__(self, kind: str, key: str, detail: str = "") -> None:
        super().__init__(f"{kind} already exists: {key}" + (f" ({detail})" if detail else ""))
        self.kind = kind
        self.key = key
        self.detail = detail

    @property
    def why(self) -> Reason:
        if self.detail:
            return Why.EXISTS_DETAIL(kind=Term(self.kind), key=self.key, detail=self.detail)
        return Why.EXISTS(kind=Term(self.kind), key=self.key)


class PermissionDenied(MailGoThaiError):
    family: ClassVar[str] = "permission_denied"

    def __init__(self, why: Reason | None = None) -> None:
        self.why = why or Why.OPERATOR_ONLY()
        super().__init__(str(self.why))


class BackendError(MailGoThaiError):
    family: ClassVar[str] = "unavailable"


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
    family: ClassVar[str] = "stack"
