"""mail users' second factor and app passwords (issue 20): each user's TOTP secret (sealed
as the admins' are), the recovery codes (SHA-256 of each, single use), and the last use of
each app password (the passwords themselves live in the directory: mgtAppPassword)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_totp",
        sa.Column("login", sa.String(length=320), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_user_totp")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("login", sa.String(length=320), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("login", "code_hash", name=op.f("pk_recovery_codes")),
    )
    op.create_table(
        "app_password_uses",
        sa.Column("login", sa.String(length=320), nullable=False),
        sa.Column("app_id", sa.String(length=16), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("login", "app_id", name=op.f("pk_app_password_uses")),
    )


def downgrade() -> None:
    op.drop_table("app_password_uses")
    op.drop_table("recovery_codes")
    op.drop_table("user_totp")
