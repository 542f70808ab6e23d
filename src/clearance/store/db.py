"""Engines and migrations: SQLite (WAL) for the embedded workspace, PostgreSQL for teams."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from clearance.errors import StoreError

#: the newest migration; `migrate` runs Alembic only when the database is behind it
HEAD = "0010"


def create_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    try:
        if url.startswith("sqlite"):
            engine = sa.create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        # A server process runs up to 40 requests at once in threads: keep enough
        # connections open that busy moments do not open (and close) new ones.
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {_safe(url)}: {exc}") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defer BEGIN; take control of it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit (and the receipt it returns) survives power loss, not only a crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _safe(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url


def current_revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty database); StoreError when it
    cannot be reached."""
    try:
        with engine.connect() as conn:
            return current_revision(conn)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot open the database: {exc.orig}") from None


def migrate(engine: Engine) -> None:
    """Bring the schema to HEAD through Alembic (a new database is created this way)."""
    try:
        with engine.connect() as conn:
            if current_revision(conn) == HEAD:
                return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("clearance.store") / "migrations")
        )
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot open the database: {exc.orig}") from None


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: commits when the block succeeds, rolls back when it raises; SQLite
    takes its write lock at the start (BEGIN IMMEDIATE). Services use `uow.unit_of_work`."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
            return
        with conn.begin():
            yield conn
