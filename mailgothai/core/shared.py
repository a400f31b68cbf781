"""Shared role mailboxes (issue 17; every Thai agency's saraban@): rights, the ACL groups
that carry them, and the value that lists an account's groups. No I/O.

A member's memberships live on its own account entry (mgtSharedAccess), one value, the ACL
groups comma-separated, because Dovecot's userdb gives `acl_groups` one value. A group is
named by the shared mailbox's entryUUID, never its address:
`shared-<uuid>-read`, `shared-<uuid>-write`, `shared-<uuid>-send-as`. The shared mailbox's
folders carry ACLs for its read and write groups (written once, when it is made), so a
change of membership is a change of the member's entry only.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from mailgothai.core.models import Status
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput


class Right(enum.Enum):
    READ = "read"  # list, read, its own \Seen flags (kept per member: INDEXPVT)
    WRITE = "write"  # read, and insert, flags, delete and expunge, create folders
    SEND_AS = "send-as"  # the relay lets the member send as the shared address


# What each right's group may do in every folder of the shared mailbox (RFC 4314 letters,
# Dovecot's ACL plugin). Nobody gets 'a' (changing ACLs) or 'x' (deleting a folder).
ACL_LETTERS: dict[Right, str] = {
    Right.READ: "lrs",
    Right.WRITE: "lrwstipek",
}

_GROUP = re.compile(r"^shared-([0-9a-f-]{36})-(read|write|send-as)$")


def parse_rights(text: str | list[str] | tuple[str, ...], field: str = "rights") -> frozenset[Right]:
    """'read,write,send-as' (any order, ',' or spaces) -> the rights; at least one."""
    words = text.replace(",", " ").split() if isinstance(text, str) else [w.strip() for w in text]
    rights: set[Right] = set()
    for word in words:
        try:
            rights.add(Right(word.lower()))
        except ValueError:
            raise InvalidInput(field, Why.NOT_A_SHARED_RIGHT(value=repr(word))) from None
    if not rights:
        raise InvalidInput(field, Why.NO_SHARED_RIGHT())
    return frozenset(rights)


def rights_text(rights: frozenset[Right]) -> str:
    return ",".join(r.value for r in Right if r in rights)


def group(shared_id: str, right: Right) -> str:
    return f"shared-{shared_id.lower()}-{right.value}"


def member_acl(shared_id: str) -> dict[str, str]:
    """The ACL a shared mailbox's INBOX gives its member groups (Dovecot identifiers -> letters)."""
    return {f"group={group(shared_id, right)}": letters for right, letters in ACL_LETTERS.items()}


def parse_access(value: str) -> dict[str, frozenset[Right]]:
    """An account's mgtSharedAccess -> {shared mailbox id: rights}; unknown parts ignored."""
    found: dict[str, set[Right]] = {}
    for part in value.split(","):
        m = _GROUP.match(part.strip().lower())
        if m:
            found.setdefault(m.group(1), set()).add(Right(m.group(2)))
    return {sid: frozenset(r) for sid, r in found.items()}


def access_value(access: dict[str, frozenset[Right]]) -> str:
    """The inverse of parse_access, in a stable order ("" for no membership)."""
    return ",".join(group(sid, r) for sid in sorted(access) for r in Right if r in access[sid])


def with_rights(value: str, shared_id: str, rights: frozenset[Right]) -> str:
    """`value` with the member's rights in one shared mailbox replaced (none: removed)."""
    access = parse_access(value)
    access.pop(shared_id.lower(), None)
    if rights:
        access[shared_id.lower()] = rights
    return access_value(access)


@dataclass(frozen=True)
class SharedMailbox:
    address: str
    domain: str
    name: str = ""  # shown to people, e.g. "สารบรรณ"
    quota: int = 0  # bytes
    status: Status = Status.ACTIVE
    mailbox_id: str = ""  # the entry's entryUUID: its mailbox home and its ACL groups


@dataclass(frozen=True)
class Member:
    email: str
    rights: frozenset[Right]
    active: bool = True

    @property
    def rights_text(self) -> str:
        return rights_text(self.rights)
