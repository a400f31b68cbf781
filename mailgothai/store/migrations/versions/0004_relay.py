"""relay: DKIM key records, send counters (issue 5)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dkim_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("public_record", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("switch_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retire_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dkim_keys")),
        sa.UniqueConstraint("domain", "selector", name="uq_dkim_keys_domain_selector"),
    )
    op.create_index(op.f("ix_dkim_keys_domain"), "dkim_keys", ["domain"])
    op.create_table(
        "relay_send_counters",
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "hour", name=op.f("pk_relay_send_counters")),
    )


def downgrade() -> None:
    op.drop_table("relay_send_counters")
    op.drop_index(op.f("ix_dkim_keys_domain"), table_name="dkim_keys")
    op.drop_table("dkim_keys")
