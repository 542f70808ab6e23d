"""Technical readiness: signed acceptances of scanner findings, and signed acknowledgements
by interested parties; both insert-only.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DIGEST = sa.String(71)
TIME = sa.String(32)
RECORDS = ("finding_acceptances", "acknowledgements")


def upgrade() -> None:
    op.create_table(
        "finding_acceptances",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("candidate", DIGEST, sa.ForeignKey("candidates.digest"), nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("criterion_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("place", sa.Text, nullable=False),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_finding_acceptances_candidate", "finding_acceptances", ["candidate"])
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("candidate", DIGEST, sa.ForeignKey("candidates.digest"), nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("party", sa.Text, nullable=False),
        sa.Column("party_digest", DIGEST, nullable=False),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_acknowledgements_release", "acknowledgements", ["system_id", "version"])
    forbid_changes(RECORDS)


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
