"""Web pages: sign-in credentials, OpenID identities and reviewer links.

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
