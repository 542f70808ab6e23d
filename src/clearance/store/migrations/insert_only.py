"""The triggers that make record tables insert-only, shared by the migrations: the database
itself refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on them. On PostgreSQL they call
`clearance_insert_only()`, created by migration 0001."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op


def forbid_changes(tables: Iterable[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_insert_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION clearance_insert_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION clearance_insert_only()"
            )
        return
    for table in tables:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'clearance: {table} is insert-only'); END"
            )
