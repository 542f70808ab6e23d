"""Small evidence stored in the database with its record.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "small_blobs",
        sa.Column("digest", sa.String(71), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    forbid_changes(["small_blobs"])


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
