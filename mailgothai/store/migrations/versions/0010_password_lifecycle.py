"""password lifecycle per domain (issue 20): change at next login for new accounts, a
maximum password age and the warning's lead time; and the expiry warnings already sent

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "password_lifecycle",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("must_change_generated", sa.Boolean(), nullable=False),
        sa.Column("must_change_on_create", sa.Boolean(), nullable=False),
        sa.Column("max_age_days", sa.Integer(), nullable=True),  # None: passwords never expire
        sa.Column("warn_days", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_password_lifecycle")),
    )
    op.create_table(
        "password_expiry_warnings",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", "expires_at", name=op.f("pk_password_expiry_warnings")),
    )
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("must_change_password")
    op.drop_table("password_expiry_warnings")
    op.drop_table("password_lifecycle")
