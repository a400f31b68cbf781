"""The objects the service manages, as plain immutable values."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class Status(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"

    @classmethod
    def parse(cls, text: str, field_name: str = "status") -> Status:
        from mailgothai.core.reasons import Why
        from mailgothai.errors import InvalidInput

        value = text.strip().lower()
        for status in cls:
            if status.value == value:
                return status
        raise InvalidInput(field_name, Why.NOT_A_STATUS(value=repr(text)))


class Role(enum.StrEnum):
    SUPERADMIN = "superadmin"
    DOMAIN_ADMIN = "domain_admin"


@dataclass(frozen=True)
class DomainLimits:
    """A domain's limits. Sizes are bytes; 0 means "no limit" for the pool and counts."""

    max_accounts: int = 0
    quota_pool: int = 0
    default_quota: int = 1024**3
    max_message_size: int = 25 * 1024**2
    hourly_send_limit: int = 500
    retention_days: int = 30  # days a deleted account's mailbox is kept (0-3650, core/retention.py)


@dataclass(frozen=True)
class Domain:
    name: str  # the ASCII (IDNA A-label) form, lower case
    description: str = ""
    status: Status = Status.ACTIVE
    limits: DomainLimits = field(default_factory=DomainLimits)
    account_count: int = 0  # accounts currently in the domain (kept by the directory)
    quota_allocated: int = 0  # sum of the accounts' quotas, bytes
    hold_reason: str = ""  # a legal hold on the whole domain: its mail is never purged
    catch_all: str = ""  # the address that receives mail for unknown addresses; "" = off


@dataclass(frozen=True)
class AliasDomain:
    """Another name of a hosted domain (issue 17): every address of `target` is valid at `name`."""

    name: str  # ASCII, lower case
    target: str  # the hosted domain it stands for


@dataclass(frozen=True)
class Account:
    email: str  # normalised: lower-case local part kept as given, ASCII domain
    domain: str
    quota: int
    status: Status = Status.ACTIVE
    given_name: str = ""
    surname: str = ""
    display_name: str = ""
    aliases: tuple[str, ...] = ()
    forwards: tuple[str, ...] = ()
    # The mailbox's identity (the entry's entryUUID), read with a single account; not part
    # of what an account's equality compares, nor of bulk reads.
    mailbox_id: str = field(default="", compare=False)
    hold_reason: str = field(default="", compare=False)  # a legal hold: its mail is never purged
    # Passwords over time (issue 20), read with a single account; written at creation
    # (the directory stamps the time of a new password when none is given).
    must_change_password: bool = field(default=False, compare=False)
    password_changed_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RetainedAccount:
    """A deleted account kept for its domain's retention period, with its mailbox."""

    mailbox_id: str
    account: Account  # as it was when deleted (its address, names, quota, aliases)
    deleted_at: datetime
    deleted_by: str
    purge_after: datetime
    size: int | None  # bytes of mail when deleted; None: not known
    hold_reason: str = ""
    purging: bool = False  # a purge has begun: it can no longer be restored

    @property
    def email(self) -> str:
        return self.account.email

    @property
    def domain(self) -> str:
        return self.account.domain


@dataclass(frozen=True)
class Alias:
    address: str
    domain: str
    members: tuple[str, ...]
    status: Status = Status.ACTIVE


@dataclass(frozen=True)
class Admin:
    login: str
    role: Role
    domains: tuple[str, ...] = ()
    display_name: str = ""
    status: Status = Status.ACTIVE


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; `cookie` fetches the next page, None on the last."""

    items: tuple[T, ...]
    cookie: bytes | None
