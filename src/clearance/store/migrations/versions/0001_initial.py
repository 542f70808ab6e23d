"""Initial schema: systems, plan revisions, candidates, evidence, approvals, decisions,
releases, the audit log with its signed checkpoints, and public keys; all insert-only
(enforced by triggers).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DIGEST = sa.String(71)
TIME = sa.String(32)
RECORDS = (
    "systems",
    "plan_revisions",
    "candidates",
    "evidence",
    "approvals",
    "decisions",
    "releases",
    "events",
    "checkpoints",
    "keys",
)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "systems",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "plan_revisions",
        _id(),
        sa.Column("digest", DIGEST, nullable=False, unique=True),
        sa.Column("system_id", sa.String(64), sa.ForeignKey("systems.id"), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_plan_revisions_system", "plan_revisions", ["system_id", "id"])
    op.create_table(
        "candidates",
        _id(),
        sa.Column("digest", DIGEST, nullable=False, unique=True),
        sa.Column("revision", DIGEST, sa.ForeignKey("plan_revisions.digest"), nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("components", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "evidence",
        _id(),
        sa.Column("candidate", DIGEST, sa.ForeignKey("candidates.digest"), nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("criterion_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("added_by", sa.Text, nullable=False),
        sa.Column("role", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("added_at", TIME, nullable=False),
    )
    op.create_index("ix_evidence_candidate", "evidence", ["candidate", "criterion_id"])
    op.create_table(
        "approvals",
        _id(),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("candidate", DIGEST, sa.ForeignKey("candidates.digest"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("person", sa.Text, nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_approvals_release", "approvals", ["system_id", "version"])
    op.create_table(
        "decisions",
        _id(),
        sa.Column("candidate", DIGEST, sa.ForeignKey("candidates.digest"), nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("results", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("evaluator_version", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("evaluated_at", TIME, nullable=False),
    )
    op.create_index("ix_decisions_candidate", "decisions", ["candidate", "id"])
    op.create_table(
        "releases",
        _id(),
        sa.Column("candidate", DIGEST, sa.ForeignKey("candidates.digest"), nullable=False),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("system_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("components", sa.Text, nullable=False),
        sa.Column("released_by", sa.Text, nullable=False),
        sa.Column("released_at", TIME, nullable=False),
    )
    op.create_index("ix_releases_target", "releases", ["system_id", "target", "id"])
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("system_id", sa.String(64)),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_events_system", "events", ["system_id", "seq"])
    op.create_index("ix_events_subject", "events", ["subject"])
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("key_id", DIGEST, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),
    )
    op.create_table(
        "keys",
        sa.Column("key_id", DIGEST, primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("valid_from", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    _forbid_changes()


def _forbid_changes() -> None:
    """Records are insert-only: the database itself refuses UPDATE and DELETE on them."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION clearance_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'clearance: % is insert-only', TG_TABLE_NAME; END $$"
        )
    forbid_changes(RECORDS)


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; the initial schema is not dropped")
