"""Last logins in SQL (tables `account_logins` and `account_login_sync`, migration 0006).

One row per account, keyed by its mailbox id (the entry's entryUUID), never by its address:
an address deleted and given to a new account starts with a new row, so nobody inherits
another's last login. A row holds the account's domain and address (for a domain's listing
sorted by last login, and the inactive report) and `seen_ms` (0: never logged in).

Rows of accounts that never logged in are written by `sync`, from the directory's list of a
domain's accounts, and `account_login_sync` keeps the stamp of the directory state each
domain was last matched with (services/last_login.py decides when). Logins come in batches
(`record`): one SELECT of the batch's rows and one bulk INSERT/UPDATE, keeping the newest
time of each (several processes may flush out of order)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Index, String, delete, func, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from mailgothai.core.last_login import NEVER, LastLogin, Owner, from_ms
from mailgothai.store.db import Store
from mailgothai.store.models import Base
from mailgothai.store.times import aware

CHUNK = 500  # values in one IN (...)


class AccountLoginRow(Base):
    __tablename__ = "account_logins"
    __table_args__ = (Index("ix_account_logins_domain_seen", "domain", "seen_ms", "address"),
                      Index("ix_account_logins_domain_address", "domain", "address"))

    mailbox_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253))
    address: Mapped[str] = mapped_column(String(320))
    seen_ms: Mapped[int] = mapped_column(BigInteger)
    protocol: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(64))


class AccountLoginSync(Base):
    __tablename__ = "account_login_sync"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(128))
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _last(row: AccountLoginRow) -> LastLogin | None:
    return None if row.seen_ms == NEVER else LastLogin(from_ms(row.seen_ms), row.protocol, row.source)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class LastLogins:
    def __init__(self, store: Store) -> None:
        self._store = store

    # ---- logins --------------------------------------------------------------------------

    def record(self, logins: Mapping[str, tuple[Owner, LastLogin]]) -> int:
        """Write a batch (mailbox id → (its owner, its login)); an older time never replaces
        a newer one. Returns how many rows changed."""
        ids = list(logins)
        changed = 0
        with self._store.session() as session:
            existing: dict[str, AccountLoginRow] = {}
            for part in _chunks(ids):
                existing.update((r.mailbox_id, r) for r in session.scalars(
                    select(AccountLoginRow).where(AccountLoginRow.mailbox_id.in_(part))))
            for mailbox_id, (owner, login) in logins.items():
                row = existing.get(mailbox_id)
                if row is None:
                    session.add(AccountLoginRow(mailbox_id=mailbox_id, domain=owner.domain,
                                                address=owner.address.lower(), seen_ms=login.seen_ms,
                                                protocol=login.protocol, source=login.source[:64]))
                    changed += 1
                elif login.seen_ms > row.seen_ms:
                    row.seen_ms, row.protocol, row.source = login.seen_ms, login.protocol, login.source[:64]
                    row.domain, row.address = owner.domain, owner.address.lower()
                    changed += 1
        return changed

    def of(self, mailbox_ids: Sequence[str]) -> dict[str, LastLogin]:
        """The last login of each of these accounts that has one."""
        out: dict[str, LastLogin] = {}
        ids = [i for i in mailbox_ids if i]
        if not ids:
            return out
        with self._store.session() as session:
            for part in _chunks(ids):
                for row in session.scalars(select(AccountLoginRow).where(
                        AccountLoginRow.mailbox_id.in_(part), AccountLoginRow.seen_ms > NEVER)):
                    last = _last(row)
                    if last is not None:
                        out[row.mailbox_id] = last
        return out

    # ---- a domain's accounts by last login ---------------------------------------------

    def page(self, domain: str, descending: bool, prefix: str, offset: int, size: int,
             count: bool = True) -> tuple[list[tuple[str, str, LastLogin | None]], int]:
        """A window of the domain's accounts by last login (ties and never-logged-in by
        address; `descending` is the same list reversed), those whose address starts with
        `prefix`: (mailbox id, address, last login) and how many there are in all (-1 unless
        `count`: the count reads every row of the domain's index, ~5 ms for 40,000)."""
        where = [AccountLoginRow.domain == domain]
        if prefix:
            where.append(AccountLoginRow.address.like(_escape_like(prefix.lower()) + "%", escape="\\"))
        order = ((AccountLoginRow.seen_ms.desc(), AccountLoginRow.address.desc()) if descending
                 else (AccountLoginRow.seen_ms.asc(), AccountLoginRow.address.asc()))
        with self._store.session() as session:
            total = (int(session.scalar(select(func.count()).select_from(AccountLoginRow).where(*where)) or 0)
                     if count else -1)
            rows = session.scalars(select(AccountLoginRow).where(*where).order_by(*order)
                                   .offset(offset).limit(size)).all()
            return [(r.mailbox_id, r.address, _last(r)) for r in rows], total

    def inactive(self, domain: str, before: datetime) -> list[tuple[str, str, LastLogin | None]]:
        """The domain's accounts with no login since `before` (never-logged-in included,
        first), oldest first: (mailbox id, address, last login)."""
        cutoff = int(before.timestamp() * 1000)
        with self._store.session() as session:
            rows = session.scalars(select(AccountLoginRow).where(
                AccountLoginRow.domain == domain, AccountLoginRow.seen_ms < cutoff)
                .order_by(AccountLoginRow.seen_ms, AccountLoginRow.address)).all()
            return [(r.mailbox_id, r.address, _last(r)) for r in rows]

    # ---- matching the directory ----------------------------------------------------------

    def synced(self, domain: str) -> tuple[str, datetime] | None:
        """The stamp the domain's rows are known to match, and when they were last matched
        with the directory in full (None: never)."""
        with self._store.session() as session:
            row = session.get(AccountLoginSync, domain)
            return (row.stamp, aware(row.synced_at)) if row is not None else None

    def count(self, domain: str) -> int:
        with self._store.session() as session:
            return int(session.scalar(select(func.count()).select_from(AccountLoginRow)
                                      .where(AccountLoginRow.domain == domain)) or 0)

    def set_stamp(self, domain: str, stamp: str) -> None:
        """The rows match the directory at `stamp` too (the time of the last full match stays)."""
        with self._store.session() as session:
            session.execute(update(AccountLoginSync).where(AccountLoginSync.domain == domain).values(stamp=stamp))

    def sync(self, domain: str, accounts: Mapping[str, str], stamp: str) -> int:
        """Make the domain's rows the directory's accounts (mailbox id → address): a row for
        each (never logged in unless it has one), none for another; remember `stamp`.
        Returns how many rows were added, moved or removed."""
        accounts = {i: a.lower() for i, a in accounts.items()}
        changed = 0
        with self._store.session() as session:
            have: dict[str, str] = {
                mailbox_id: address for mailbox_id, address in session.execute(
                    select(AccountLoginRow.mailbox_id, AccountLoginRow.address)
                    .where(AccountLoginRow.domain == domain))}
            gone = [i for i in have if i not in accounts]
            for part in _chunks(gone):
                session.execute(delete(AccountLoginRow).where(AccountLoginRow.mailbox_id.in_(part)))
            changed += len(gone)
            for mailbox_id, address in accounts.items():
                if mailbox_id in have and have[mailbox_id] != address:
                    session.execute(update(AccountLoginRow).where(AccountLoginRow.mailbox_id == mailbox_id)
                                    .values(address=address))
                    changed += 1
            missing = [i for i in accounts if i not in have]
            elsewhere: set[str] = set()  # rows of accounts moved here from another domain
            for part in _chunks(missing):
                elsewhere.update(session.scalars(select(AccountLoginRow.mailbox_id)
                                                 .where(AccountLoginRow.mailbox_id.in_(part))))
            for mailbox_id in elsewhere:
                session.execute(update(AccountLoginRow).where(AccountLoginRow.mailbox_id == mailbox_id)
                                .values(domain=domain, address=accounts[mailbox_id]))
            new = [{"mailbox_id": i, "domain": domain, "address": accounts[i], "seen_ms": NEVER, "protocol": "",
                    "source": ""} for i in missing if i not in elsewhere]
            if new:
                session.execute(insert(AccountLoginRow), new)
            changed += len(missing)
            self._set_stamp(session, domain, stamp)
        return changed

    @staticmethod
    def _set_stamp(session: Session, domain: str, stamp: str) -> None:
        row = session.get(AccountLoginSync, domain)
        if row is None:
            session.add(AccountLoginSync(domain=domain, stamp=stamp, synced_at=datetime.now(UTC)))
        else:
            row.stamp, row.synced_at = stamp, datetime.now(UTC)

    def forget(self, mailbox_id: str) -> None:
        """An account deleted: its row goes (a restored account starts as never logged in)."""
        with self._store.session() as session:
            session.execute(delete(AccountLoginRow).where(AccountLoginRow.mailbox_id == mailbox_id))

    def moved(self, mailbox_id: str, address: str, domain: str) -> None:
        """An account renamed: its row follows it (the login stays the account's)."""
        with self._store.session() as session:
            session.execute(update(AccountLoginRow).where(AccountLoginRow.mailbox_id == mailbox_id)
                            .values(address=address.lower(), domain=domain))

    def set_seen(self, mailbox_id: str, owner: Owner, login: LastLogin | None) -> None:
        """Overwrite one account's last login (an operator's correction; tests move the
        clock with it): None makes it never logged in."""
        with self._store.session() as session:
            row = session.get(AccountLoginRow, mailbox_id)
            if row is None:
                row = AccountLoginRow(mailbox_id=mailbox_id)
                session.add(row)
            row.domain, row.address = owner.domain, owner.address.lower()
            row.seen_ms = login.seen_ms if login else NEVER
            row.protocol, row.source = (login.protocol, login.source) if login else ("", "")
