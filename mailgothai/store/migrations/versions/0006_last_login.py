"""last login: one row per account (by its mailbox id), and what each domain's rows were
last matched with in the directory (issue 17)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_logins",
        sa.Column("mailbox_id", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("mailbox_id", name=op.f("pk_account_logins")),
    )
    # A domain's accounts by last login (both ways, ties by address), and by address.
    op.create_index("ix_account_logins_domain_seen", "account_logins", ["domain", "seen_ms", "address"])
    op.create_index("ix_account_logins_domain_address", "account_logins", ["domain", "address"])
    op.create_table(
        "account_login_sync",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("stamp", sa.String(length=128), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_account_login_sync")),
    )


def downgrade() -> None:
    op.drop_table("account_login_sync")
    op.drop_index("ix_account_logins_domain_address", table_name="account_logins")
    op.drop_index("ix_account_logins_domain_seen", table_name="account_logins")
    op.drop_table("account_logins")
