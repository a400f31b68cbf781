"""self-service password reset (issue 20): each account's recovery address outside the
service (by mailbox id), with its confirmation, the links sent, and the requests counted by
the throttle; of a link's token only its SHA-256 is stored

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recovery_addresses",
        sa.Column("mailbox_id", sa.String(length=36), nullable=False),  # the account's entryUUID
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_id", name=op.f("pk_recovery_addresses")),
    )
    op.create_table(
        "password_reset_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),  # hex SHA-256 of the token
        sa.Column("purpose", sa.String(length=16), nullable=False),  # "reset" or "confirm"
        sa.Column("mailbox_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),  # where the link was sent
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_password_reset_tokens")),
    )
    op.create_index(op.f("ix_password_reset_tokens_mailbox_id"), "password_reset_tokens", ["mailbox_id"])
    op.create_index(op.f("ix_password_reset_tokens_expires_at"), "password_reset_tokens", ["expires_at"])
    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=330), nullable=False),  # "a:ADDRESS" or "s:SOURCE"
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
    )
    op.create_index(op.f("ix_password_reset_requests_key_at"), "password_reset_requests", ["key", "at"])
    op.create_index(op.f("ix_password_reset_requests_at"), "password_reset_requests", ["at"])


def downgrade() -> None:
    op.drop_table("password_reset_requests")
    op.drop_table("password_reset_tokens")
    op.drop_table("recovery_addresses")
