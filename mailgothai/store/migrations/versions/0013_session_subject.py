"""web sessions name whom they are for (issue 20): a mail user's session holds the account's
mailbox id (entryUUID) from its login, so it ends when that account is deleted, renamed or
suspended, and never passes to a new holder of the address; sessions made before have
none and end at their next request (their users log in again)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("subject")
