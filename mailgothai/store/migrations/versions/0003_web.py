"""admin web: sessions, API tokens, login throttling, TOTP, quota snapshots (issue 3)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("login", sa.String(320), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_login"), "web_sessions", ["login"])
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("admin_login", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    op.create_index(op.f("ix_api_tokens_admin_login"), "api_tokens", ["admin_login"])
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", TZ, nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )
    op.create_table(
        "admin_totp",
        sa.Column("admin_login", sa.String(64), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("admin_login", name=op.f("pk_admin_totp")),
    )
    op.create_table(
        "quota_snapshots",
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("read_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_quota_snapshots")),
    )
    op.create_index(op.f("ix_quota_snapshots_domain"), "quota_snapshots", ["domain"])
    op.create_table(
        "domain_usage",
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("accounts_read", sa.Integer(), nullable=False),
        sa.Column("oldest_read_at", TZ, nullable=True),
        sa.Column("newest_read_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_domain_usage")),
    )


def downgrade() -> None:
    for table in ("domain_usage", "quota_snapshots", "admin_totp", "login_failures", "api_tokens", "web_sessions"):
        op.drop_table(table)
