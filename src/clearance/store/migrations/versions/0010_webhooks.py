"""Change tickets from inbound webhooks, and the outbound webhook outbox.

Ticket states, subscriptions and their removals are records (insert-only, logged). The
outbox row's delivery state is the one column set updated in place; each delivery attempt
is kept insert-only beside it.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

DIGEST = sa.String(71)
TIME = sa.String(32)
RECORDS = ("change_ticket_states", "webhook_subscriptions", "webhook_removals", "webhook_attempts")


def upgrade() -> None:
    op.create_table(
        "change_ticket_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("delivery", sa.String(200), nullable=False),
        sa.Column("payload_digest", DIGEST, nullable=False),
        sa.Column("sent_at", TIME, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.UniqueConstraint("source", "delivery", name="uq_change_ticket_states_delivery"),
    )
    op.create_index("ix_change_ticket_states_ticket", "change_ticket_states", ["ticket", "id"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("secret_env", sa.String(128), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "webhook_removals",
        sa.Column(
            "subscription_id",
            sa.Integer,
            sa.ForeignKey("webhook_subscriptions.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("subscription", sa.String(80), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret_env", sa.String(128), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("claim", sa.String(32)),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", TIME),
        sa.UniqueConstraint("event_id", "subscription", name="uq_webhook_outbox_event"),
    )
    op.create_index("ix_webhook_outbox_due", "webhook_outbox", ["state", "next_attempt_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer, sa.ForeignKey("webhook_outbox.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index("ix_webhook_attempts_outbox", "webhook_attempts", ["outbox_id"])
    forbid_changes(RECORDS)


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
