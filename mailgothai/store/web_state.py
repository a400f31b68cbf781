"""SQL tables of the admin web (migration 0003): sessions, API tokens (hashed), failed
logins, TOTP secrets (encrypted), and quota-usage snapshots read from Dovecot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mailgothai.store.models import Base


class WebSession(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is kept."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "admin" or "user"
    login: Mapped[str] = mapped_column(String(320), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # "password": password checked, second factor (or its enrolment) still due; "ok": fully in
    stage: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str] = mapped_column(String(64))
    # a mail user's: the account's mailbox id at login (migration 0013); "" for admins
    subject: Mapped[str] = mapped_column(String(64), default="", server_default="")


class ApiToken(Base):
    """An API token: acts as its admin, with that admin's current rights. Secret hashed."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    admin_login: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginFailure(Base):
    """Failed logins per key ("account:…" or "ip:…"): the throttle's state."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AdminTotp(Base):
    """An admin's TOTP secret, encrypted with the web's key; `enabled` once confirmed."""

    __tablename__ = "admin_totp"

    admin_login: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean)
    last_step: Mapped[int] = mapped_column(BigInteger)  # the last time step used: no replay
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QuotaSnapshot(Base):
    """One account's storage use as Dovecot reported it, and when."""

    __tablename__ = "quota_snapshots"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), index=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DomainUsage(Base):
    """A domain's total of its snapshots, kept when snapshots are written (the dashboard
    reads 434 rows, not 207,074)."""

    __tablename__ = "domain_usage"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger)
    accounts_read: Mapped[int] = mapped_column(Integer)
    oldest_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    newest_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
