"""How a password hash is stored: userPassword, and the mark of a hash from an older system."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from mailgothai.core.passwords import is_legacy_hash
from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway

LEGACY_MARK = "mgtPasswordUpgrade"
CHANGED_AT = "mgtPasswordChangedAt"  # issue 20: when the password was last set
MUST_CHANGE = "mgtMustChangePassword"  # TRUE or absent: change at next login (Dovecot, relay)


def password_attributes(password_hash: str) -> dict[str, object]:
    """userPassword, and mgtPasswordUpgrade TRUE while it is not argon2id (removed
    otherwise: a new password ends a pending upgrade)."""
    return {"userPassword": password_hash, LEGACY_MARK: "TRUE" if is_legacy_hash(password_hash) else None}


def account_password_attributes(password_hash: str, at: datetime | None = None,
                                must_change: bool = False) -> dict[str, object]:
    """An account's new password: password_attributes, the time it was set (now unless
    given) and the "change at next login" mark (removed unless asked: the user's own
    change ends it). Admin entries have neither."""
    return {**password_attributes(password_hash), CHANGED_AT: ldap_stamp(at or datetime.now(UTC)),
            MUST_CHANGE: "TRUE" if must_change else None}


def ldap_stamp(moment: datetime) -> str:
    """GeneralizedTime in UTC to the second (what the expiry filters compare)."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def parse_stamp(text: str) -> datetime | None:
    if not text:
        return None
    value = text.rstrip("Z").split(".")[0]
    return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def is_marked(entry: Entry) -> bool:
    """Whether an entry read with LEGACY_MARK carries the mark."""
    return entry.first(LEGACY_MARK).upper() == "TRUE"


def upgrade_legacy_hash(gateway: Gateway, dn: str, password: str, hasher: Callable[[str], str]) -> bool:
    """After a successful login with `password`: if the entry's hash is marked as from an
    older system, store hasher(password) instead, as the entry itself (see
    Gateway.replace_own_legacy_hash). True if it was replaced; an unmarked entry costs
    one read and no hashing."""
    entry = gateway.read(dn, (LEGACY_MARK,))
    if entry is None or not is_marked(entry):
        return False
    return gateway.replace_own_legacy_hash(dn, password, hasher(password))
