"""inbound protection: per-domain spam policies, the operator's defaults and bounds,
allow and block lists of domains and users, hourly protection counts (issue 18)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _policy_columns() -> list[sa.Column[object]]:
    """A policy's values (a NULL score: that outcome is off)."""
    return [
        sa.Column("junk_score", sa.Float(), nullable=True),
        sa.Column("quarantine_score", sa.Float(), nullable=True),
        sa.Column("reject_score", sa.Float(), nullable=True),
        sa.Column("greylisting", sa.Boolean(), nullable=False),
        sa.Column("quarantine_days", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "spam_policies",
        sa.Column("domain", sa.String(length=253), nullable=False),
        *_policy_columns(),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_spam_policies")),
    )
    op.create_table(
        "spam_defaults",  # one row (id 1): the default policy and the bounds for domain admins
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        *_policy_columns(),
        sa.Column("lowest_score", sa.Float(), nullable=False),
        sa.Column("highest_score", sa.Float(), nullable=False),
        sa.Column("longest_quarantine_days", sa.Integer(), nullable=False),
        sa.Column("may_disable_greylisting", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spam_defaults")),
    )
    op.create_table(
        "sender_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=False),  # a domain or an address
        sa.Column("kind", sa.String(length=8), nullable=False),  # allow | block
        sa.Column("pattern", sa.String(length=320), nullable=False),  # an address or a domain
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_rules")),
        sa.UniqueConstraint("owner", "kind", "pattern", name="uq_sender_rules_owner_kind_pattern"),
    )
    op.create_table(
        "protection_counts",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),  # hours since the epoch, UTC
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "hour", "outcome", name=op.f("pk_protection_counts")),
    )
    op.create_index("ix_protection_counts_hour", "protection_counts", ["hour"])


def downgrade() -> None:
    op.drop_index("ix_protection_counts_hour", table_name="protection_counts")
    op.drop_table("protection_counts")
    op.drop_table("sender_rules")
    op.drop_table("spam_defaults")
    op.drop_table("spam_policies")
