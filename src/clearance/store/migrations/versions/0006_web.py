"""Web pages: sign-in credentials, OpenID identities and reviewer links.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SHARE_TIME = sa.String(32)


def upgrade() -> None:
    # sign-in ----------------------------------------------------------------------------
    # Password hashes (argon2; a new row replaces the old, none is ever changed), OpenID
    # Connect subjects linked to people, and browser sessions ended by inserting a row.
    op.create_table(
        "passwords",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("set_by", sa.Text, nullable=False),
        sa.Column("created_at", SHARE_TIME, nullable=False),
    )
    op.create_index("ix_passwords_person", "passwords", ["person", "id"])
    op.create_table(
        "oidc_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", SHARE_TIME, nullable=False),
        sa.UniqueConstraint("issuer", "subject", name="uq_oidc_links_subject"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_hash", sa.String(71), nullable=False, unique=True),
        sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("created_at", SHARE_TIME, nullable=False),
        sa.Column("expires_at", SHARE_TIME, nullable=False),
    )
    op.create_table(
        "web_session_ends",
        sa.Column("session_id", sa.Integer, sa.ForeignKey("web_sessions.id"), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", SHARE_TIME, nullable=False),
    )
    forbid_changes(("passwords", "oidc_links", "web_sessions", "web_session_ends"))
    # end of sign-in ---------------------------------------------------------------------

    # reviewer links ---------------------------------------------------------------------
    # A link is stored by the SHA-256 of its token only; revoking one inserts a row.
    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("releases", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", SHARE_TIME, nullable=False),
        sa.Column("expires_at", SHARE_TIME, nullable=False),
    )
    op.create_table(
        "share_revocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "link_id", sa.Integer, sa.ForeignKey("share_links.id"), nullable=False, unique=True
        ),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", SHARE_TIME, nullable=False),
    )
    forbid_changes(("share_links", "share_revocations"))
    # end of reviewer links --------------------------------------------------------------


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
