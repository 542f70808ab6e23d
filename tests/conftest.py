"""Shared fixtures: real SQLite workspaces, and PostgreSQL schemas when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("CLEARANCE_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("CLEARANCE_REQUIRE_POSTGRES") == "1"


def _pg_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("CLEARANCE_REQUIRE_POSTGRES=1 but CLEARANCE_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need CLEARANCE_TEST_DATABASE_URL")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None for the workspace's own SQLite file, or a PostgreSQL URL with its own schema."""
    if request.param == "sqlite":
        yield None
    else:
        yield from _pg_schema_url()
