"""Attestation targets, expiry and revocations: signed revocations of release attestations,
insert-only (targets and expiry live in the attestations' signed statements).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DIGEST = sa.String(71)
TIME = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "attestation_revocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("candidate", DIGEST, nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("attestations", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_by", sa.Text, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index(
        "ix_attestation_revocations_candidate", "attestation_revocations", ["candidate"]
    )
    forbid_changes(["attestation_revocations"])


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
