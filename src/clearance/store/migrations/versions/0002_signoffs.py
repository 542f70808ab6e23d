"""Sign-offs that mean something: people, roles, personal keys, signed approvals and waivers,
organisation policies and release attestations; all insert-only.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DIGEST = sa.String(71)
TIME = sa.String(32)
RECORDS = (
    "people",
    "role_grants",
    "person_keys",
    "key_retirements",
    "waivers",
    "policies",
    "attestations",
)


def upgrade() -> None:
    # ADD COLUMN keeps the table (and its insert-only triggers) in place on SQLite.
    op.add_column("approvals", sa.Column("identity", sa.Text))
    op.add_column("approvals", sa.Column("evidence_set", DIGEST))
    op.add_column("approvals", sa.Column("envelope", sa.Text))
    op.add_column("decisions", sa.Column("policy", DIGEST))
    op.create_table(
        "people",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("identity", sa.String(200), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "role_grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("system_id", sa.String(64)),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index("ix_role_grants_person", "role_grants", ["person"])
    op.create_table(
        "person_keys",
        sa.Column("key_id", DIGEST, primary_key=True),
        sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("valid_from", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "key_retirements",
        sa.Column("key_id", DIGEST, sa.ForeignKey("person_keys.key_id"), primary_key=True),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("candidate", DIGEST, sa.ForeignKey("candidates.digest"), nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("criterion_id", sa.String(64), nullable=False),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_waivers_candidate", "waivers", ["candidate"])
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "attestations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("candidate", DIGEST, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_attestations_candidate", "attestations", ["candidate"])
    forbid_changes(RECORDS)


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
