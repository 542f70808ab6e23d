"""Log tree levels stored so appends and proofs cost O(log n): `log_nodes`, insert-only,
backfilled for an existing log from its leaf hashes in one streaming pass.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from clearance.store.migrations.insert_only import forbid_changes

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sqlite_with_rowid=False,  # clustered on (level, position): one search per node
    )
    backfill(op.get_bind())
    forbid_changes(["log_nodes"])


def backfill(conn: sa.engine.Connection) -> int:
    """Every complete node of the existing log, computed from its leaves a batch at a time
    (memory stays one batch, whatever the log's size); returns how many were written."""
    from clearance.core.levels import StreamingTree
    from clearance.store.tree import insert_nodes

    events = sa.table("events", sa.column("seq", sa.Integer), sa.column("leaf_hash"))
    tree = StreamingTree()
    chunk, after, written = 1 << 14, 0, 0
    while True:
        query = (
            sa.select(events.c.seq, events.c.leaf_hash)
            .where(events.c.seq > after)
            .order_by(events.c.seq)
            .limit(chunk)
        )
        rows = conn.execute(query).all()
        if not rows:
            return written
        if rows[0][0] != after + 1 or rows[-1][0] != after + len(rows):
            # a gap would shift every later leaf; verification names it, so build no tree
            raise RuntimeError(
                f"the log has a gap after event {after}: run `clearance log verify` "
                "on the previous version and restore the missing events before migrating"
            )
        tree.extend([bytes.fromhex(h) for _, h in rows])
        written += insert_nodes(conn, tree.nodes())
        if len(rows) < chunk:
            return written
        after = rows[-1][0]


def downgrade() -> None:
    raise NotImplementedError("records are insert-only; this schema is not dropped")
