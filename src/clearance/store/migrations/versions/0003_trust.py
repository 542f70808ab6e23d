"""Guarantees that hold: signed admin statements, declared targets, waiver revocations and
signed evidence attestations; all insert-only.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DIGEST = sa.String(71)
TIME = sa.String(32)
RECORDS = ("admin_statements", "targets", "waiver_revocations")


def upgrade() -> None:
    op.add_column("evidence", sa.Column("envelope", sa.Text))
    op.create_table(
        "admin_statements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "targets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("declared_by", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "waiver_revocations",
        sa.Column("waiver_id", sa.Integer, sa.ForeignKey("waivers.id"), primary_key=True),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    forbid_changes(RECORDS)


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
