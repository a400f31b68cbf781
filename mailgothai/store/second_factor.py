"""Mail users' second factor and app passwords in SQL (migration 0011): each user's TOTP
secret (`user_totp`, read and written by store/totp.py's TotpRecords), the recovery codes
(only the SHA-256 of each; a code is taken once, in one conditional update) and the last
use of each app password (the passwords themselves are in the directory)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Boolean, CursorResult, DateTime, LargeBinary, String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.core.web_sessions import USER_KINDS
from mailgothai.store.db import Store
from mailgothai.store.models import Base
from mailgothai.store.times import aware


class UserTotp(Base):
    """A mail user's TOTP secret, encrypted with the web's key; `enabled` once confirmed."""

    __tablename__ = "user_totp"

    login: Mapped[str] = mapped_column(String(320), primary_key=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean)
    last_step: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    login: Mapped[str] = mapped_column(String(320), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AppPasswordUse(Base):
    __tablename__ = "app_password_uses"

    login: Mapped[str] = mapped_column(String(320), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    protocol: Mapped[str] = mapped_column(String(8))
    remote: Mapped[str] = mapped_column(String(64))


class RecoveryCodes:
    def __init__(self, store: Store) -> None:
        self._store = store

    def replace(self, login: str, code_hashes: Sequence[str]) -> None:
        """The user's codes are these now (the old ones, used or not, are gone)."""
        with self._store.session() as session:
            session.execute(delete(RecoveryCode).where(RecoveryCode.login == login))
            session.add_all(RecoveryCode(login=login, code_hash=h, used_at=None) for h in code_hashes)

    def use(self, login: str, code_hash: str, at: datetime) -> bool:
        """Take an unused code; False if there is none such (wrong, or used already)."""
        query = (update(RecoveryCode).where(RecoveryCode.login == login, RecoveryCode.code_hash == code_hash,
                                            RecoveryCode.used_at.is_(None)).values(used_at=at))
        with self._store.session() as session:
            return bool(cast(CursorResult[Any], session.execute(query)).rowcount)

    def left(self, login: str) -> int:
        with self._store.session() as session:
            rows = session.scalars(select(RecoveryCode).where(RecoveryCode.login == login,
                                                              RecoveryCode.used_at.is_(None))).all()
            return len(rows)

    def remove(self, login: str) -> None:
        with self._store.session() as session:
            session.execute(delete(RecoveryCode).where(RecoveryCode.login == login))


class AppPasswordUses:
    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, uses: Sequence[tuple[str, str, datetime, str, str]]) -> None:
        """(login, app id, when, protocol, remote) each; an older time never replaces a newer one."""
        with self._store.session() as session:
            for login, app_id, at, protocol, remote in uses:
                row = session.get(AppPasswordUse, (login, app_id))
                if row is None:
                    session.add(AppPasswordUse(login=login, app_id=app_id, used_at=at, protocol=protocol,
                                               remote=remote[:64]))
                elif aware(row.used_at) < at:
                    row.used_at, row.protocol, row.remote = at, protocol, remote[:64]

    def of(self, login: str) -> dict[str, tuple[datetime, str, str]]:
        """app id -> (last use, protocol, remote)."""
        with self._store.session() as session:
            rows = session.scalars(select(AppPasswordUse).where(AppPasswordUse.login == login)).all()
            return {r.app_id: (aware(r.used_at), r.protocol, r.remote) for r in rows}

    def forget(self, login: str, app_id: str) -> None:
        with self._store.session() as session:
            session.execute(delete(AppPasswordUse).where(AppPasswordUse.login == login,
                                                         AppPasswordUse.app_id == app_id))


class AccountSecrets:
    """The adapter (port services/ports.AccountSecrets)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def move_login(self, old: str, new: str, reseal: Callable[[bytes], bytes]) -> None:
        """The TOTP secret (resealed: its login is the cipher's associated data), recovery
        codes and app passwords' last uses of `old` are `new`'s, in one transaction;
        whatever a former holder of `new` left there goes first (its entry is gone: nothing
        of it may reach the renamed account)."""
        if old == new:
            return
        with self._store.session() as session:
            for model in (UserTotp, RecoveryCode, AppPasswordUse):
                session.execute(delete(model).where(model.login == new))
            session.flush()
            totp = session.get(UserTotp, old)
            if totp is not None:
                sealed = reseal(totp.secret_encrypted)
                session.delete(totp)
                session.flush()
                session.add(UserTotp(login=new, secret_encrypted=sealed, enabled=totp.enabled,
                                     last_step=totp.last_step, created_at=totp.created_at))
            for model in (RecoveryCode, AppPasswordUse):
                session.execute(update(model).where(model.login == old).values(login=new))

    def forget_mailbox(self, mailbox_id: str) -> None:
        """The recovery address and every reset or confirmation link of a purged account."""
        from mailgothai.store.password_resets import RecoveryAddressRow, ResetTokenRow

        with self._store.session() as session:
            session.execute(delete(RecoveryAddressRow).where(RecoveryAddressRow.mailbox_id == mailbox_id))
            session.execute(delete(ResetTokenRow).where(ResetTokenRow.mailbox_id == mailbox_id))

    def forget_app_uses(self, login: str, app_ids: list[str]) -> None:
        if not app_ids:
            return
        with self._store.session() as session:
            session.execute(delete(AppPasswordUse).where(AppPasswordUse.login == login,
                                                         AppPasswordUse.app_id.in_(app_ids)))

    def forget_login(self, login: str) -> None:
        """A deleted account's TOTP secret (pending or on), recovery codes and app
        passwords' last uses: keyed by address, so none may wait there for the address's
        next holder (nor survive into a restore: a restored entry still marked asks for a
        code until an admin turns its second factor off)."""
        with self._store.session() as session:
            for model in (UserTotp, RecoveryCode, AppPasswordUse):
                session.execute(delete(model).where(model.login == login))

    def void_reset_links(self, mailbox_id: str) -> int:
        """Every unused reset link of the account stops working (a new password was set)."""
        from mailgothai.core.password_reset import RESET
        from mailgothai.store.password_resets import PasswordResets

        return PasswordResets(self._store).void(mailbox_id, RESET, datetime.now(UTC))

    def drop_recovery(self, mailbox_id: str) -> str | None:
        """The recovery address (confirmed or not) and every unused link of the account
        go; the address removed, None if there was none."""
        from mailgothai.store.password_resets import PasswordResets

        resets = PasswordResets(self._store)
        found = resets.recovery(mailbox_id)
        resets.remove_recovery(mailbox_id)
        return found.address if found else None

    def end_web_sessions(self, login: str, keep_hash: str = "") -> None:
        """Every web session of the mail user `login` (the self-service's, and one waiting
        for its second factor), except the one whose token hashes to `keep_hash`."""
        from mailgothai.store.web_state import WebSession

        with self._store.session() as session:
            query = delete(WebSession).where(WebSession.kind.in_(USER_KINDS), WebSession.login == login)
            if keep_hash:
                query = query.where(WebSession.token_hash != keep_hash)
            session.execute(query)
