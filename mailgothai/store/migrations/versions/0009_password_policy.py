"""password policies (issue 20): the operator's floor (one row, id 1) and each domain's
own policy, which may only be stricter (core/password_policy.py)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _policy_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("min_length", sa.Integer(), nullable=False),
        sa.Column("required_classes", sa.String(length=32), nullable=False),  # e.g. "lower,upper,digit"
        sa.Column("min_classes", sa.Integer(), nullable=False),
        sa.Column("forbid_personal", sa.Boolean(), nullable=False),
        sa.Column("min_strength", sa.Integer(), nullable=False),  # zxcvbn score 0-4
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "password_policies",
        sa.Column("domain", sa.String(length=253), nullable=False),
        *_policy_columns(),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_password_policies")),
    )
    op.create_table(
        "password_floor",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        *_policy_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_floor")),
    )


def downgrade() -> None:
    op.drop_table("password_floor")
    op.drop_table("password_policies")
