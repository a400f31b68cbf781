"""import jobs: each refused row's reason, and a refused file's, kept as a code with parameters

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_rows") as batch:
        batch.add_column(sa.Column("reason_data", sa.JSON(), nullable=True))
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("error_data", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("error_data")
    with op.batch_alter_table("import_rows") as batch:
        batch.drop_column("reason_data")
