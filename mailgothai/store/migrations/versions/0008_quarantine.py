"""quarantine: messages the relay kept instead of delivering (issue 18), one row each, and
one row per recipient with its state (held, release_requested, released, deleted)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarantine_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=253), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_messages")),
    )
    # newest first; a node's expired messages
    op.create_index("ix_quarantine_messages_received", "quarantine_messages", ["received_at"])
    op.create_index("ix_quarantine_messages_node_expires", "quarantine_messages", ["node", "expires_at"])
    op.create_table(
        "quarantine_recipients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("original", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["quarantine_messages.id"],
                                name=op.f("fk_quarantine_recipients_message_id_quarantine_messages"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_recipients")),
    )
    op.create_index("ix_quarantine_recipients_message", "quarantine_recipients", ["message_id"])
    op.create_index("ix_quarantine_recipients_address", "quarantine_recipients", ["address"])
    # a domain's quarantine: by its recipients' domains (one message may reach several)
    op.create_index("ix_quarantine_recipients_domain", "quarantine_recipients", ["domain", "message_id"])
    # the relays' poll: what was asked to be released (few rows, if any, carry the state)
    op.create_index("ix_quarantine_recipients_state", "quarantine_recipients", ["state"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_recipients_state", table_name="quarantine_recipients")
    op.drop_index("ix_quarantine_recipients_domain", table_name="quarantine_recipients")
    op.drop_index("ix_quarantine_recipients_address", table_name="quarantine_recipients")
    op.drop_index("ix_quarantine_recipients_message", table_name="quarantine_recipients")
    op.drop_table("quarantine_recipients")
    op.drop_index("ix_quarantine_messages_node_expires", table_name="quarantine_messages")
    op.drop_index("ix_quarantine_messages_received", table_name="quarantine_messages")
    op.drop_table("quarantine_messages")
