"""The schema comes from the migrations, matches the tables module, and keeps records immutable."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from clearance.store import tables
from clearance.store.db import HEAD, create_engine, current_revision, migrate, transaction


@pytest.fixture
def engine(tmp_path: Path, database_url: str | None):
    engine = create_engine(database_url or f"sqlite:///{tmp_path / 'clearance.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_migrations_reach_head_and_match_the_tables_module(engine) -> None:
    """Alembic's autogenerate finds nothing to change: migrations and tables.py agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diff == []


def test_head_constant_is_alembics_head() -> None:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("clearance.store") / "migrations")
    )
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_migrate_twice_is_harmless(engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD


@pytest.mark.parametrize("table", tables.INSERT_ONLY)
def test_record_tables_refuse_update_and_delete(engine, table: str) -> None:
    for statement in (f"UPDATE {table} SET {_any_column(table)} = NULL", f"DELETE FROM {table}"):
        with transaction(engine) as conn:
            _seed(conn)
        with pytest.raises(sa.exc.DBAPIError, match="insert-only"), transaction(engine) as conn:
            conn.execute(sa.text(statement))


def test_sqlite_workspace_uses_wal(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_transaction_rolls_back_on_error(engine) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as conn:
        conn.execute(tables.systems.insert().values(id="s", name="n", owner="o", created_at="t"))
        raise RuntimeError("boom")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.systems)).scalar() == 0


def _any_column(table: str) -> str:
    return next(c.name for c in tables.metadata.tables[table].columns if not c.primary_key)


def _seed(conn) -> None:
    """One row in every record table, so UPDATE and DELETE have something to hit."""
    d = "sha256:" + "0" * 64
    t = "2026-01-01T00:00:00.000000Z"
    if conn.execute(sa.select(tables.systems.c.id)).first():
        return
    conn.execute(tables.systems.insert().values(id="s", name="n", owner="o", created_at=t))
    conn.execute(
        tables.revisions.insert().values(
            digest=d,
            system_id="s",
            version="1",
            author="a",
            message="m",
            filename="p",
            document="{}",
            created_at=t,
        )
    )
    conn.execute(
        tables.candidates.insert().values(
            digest=d,
            revision=d,
            system_id="s",
            version="1",
            components="[]",
            created_by="a",
            created_at=t,
        )
    )
    conn.execute(
        tables.evidence.insert().values(
            candidate=d,
            system_id="s",
            criterion_id="c",
            name="f",
            digest=d,
            size=1,
            added_by="a",
            added_at=t,
        )
    )
    conn.execute(
        tables.approvals.insert().values(
            system_id="s",
            version="1",
            candidate=d,
            role="r",
            person="p",
            decision="approve",
            comment="",
            created_at=t,
        )
    )
    decision = conn.execute(
        tables.decisions.insert().values(
            candidate=d,
            system_id="s",
            version="1",
            target="prod",
            outcome="GO",
            results="[]",
            metrics="{}",
            evaluator_version="0",
            actor="a",
            evaluated_at=t,
        )
    ).inserted_primary_key[0]
    conn.execute(
        tables.releases.insert().values(
            candidate=d,
            decision_id=decision,
            system_id="s",
            version="1",
            target="prod",
            components="[]",
            released_by="a",
            released_at=t,
        )
    )
    conn.execute(
        tables.events.insert().values(
            seq=1,
            at=t,
            type="x",
            actor="a",
            subject="s",
            payload="{}",
            entry="{}",
            leaf_hash="0" * 64,
        )
    )
    conn.execute(
        tables.checkpoints.insert().values(
            size=1, root="0" * 64, at=t, key_id=d, signature="", frontier="[]"
        )
    )
    conn.execute(tables.log_nodes.insert().values(level=1, position=0, hash=bytes(32)))
    conn.execute(
        tables.keys.insert().values(
            key_id=d, purpose="workspace", public_key="", valid_from=t, created_at=t
        )
    )
    conn.execute(
        tables.people.insert().values(name="p", identity="p", created_by="a", created_at=t)
    )
    conn.execute(
        tables.role_grants.insert().values(
            person="p", role="r", system_id=None, action="grant", by="a", at=t
        )
    )
    conn.execute(
        tables.person_keys.insert().values(
            key_id=d, person="p", public_key="", valid_from=t, created_at=t
        )
    )
    conn.execute(tables.key_retirements.insert().values(key_id=d, by="a", at=t))
    conn.execute(
        tables.waivers.insert().values(
            candidate=d,
            system_id="s",
            criterion_id="c",
            person="p",
            role="r",
            justification="j",
            expires_at=t,
            envelope="{}",
            created_at=t,
        )
    )
    conn.execute(
        tables.policies.insert().values(digest=d, document="{}", created_by="a", created_at=t)
    )
    conn.execute(
        tables.attestations.insert().values(
            decision_id=decision, candidate=d, envelope="{}", created_at=t
        )
    )
    conn.execute(
        tables.admin_statements.insert().values(
            action="person.add", actor="a", subject="p", envelope="{}", created_at=t
        )
    )
    conn.execute(
        tables.targets.insert().values(name="prod", description="", declared_by="a", created_at=t)
    )
    waiver = conn.execute(sa.select(tables.waivers.c.id)).scalar()
    conn.execute(
        tables.waiver_revocations.insert().values(
            waiver_id=waiver, person="p", reason="r", envelope="{}", created_at=t
        )
    )
    conn.execute(
        tables.api_tokens.insert().values(
            name="ci",
            person="p",
            scopes="[]",
            token_hash="0" * 64,
            created_by="a",
            created_at=t,
            expires_at=t,
        )
    )
    token = conn.execute(sa.select(tables.api_tokens.c.id)).scalar()
    conn.execute(tables.token_revocations.insert().values(token_id=token, by="a", at=t))
    conn.execute(
        tables.idempotent_responses.insert().values(
            caller="p", key="k", request=d, status=201, body="{}", created_at=t
        )
    )
    conn.execute(
        tables.finding_acceptances.insert().values(
            candidate=d,
            system_id="s",
            criterion_id="c",
            scope="rule",
            finding="B301",
            place="app.py:3",
            person="p",
            role="r",
            justification="j",
            expires_at=t,
            envelope="{}",
            created_at=t,
        )
    )
    conn.execute(
        tables.acknowledgements.insert().values(
            candidate=d,
            system_id="s",
            version="1",
            party="Patients",
            party_digest=d,
            person="p",
            role="r",
            comment="",
            envelope="{}",
            created_at=t,
        )
    )
    # webhooks (0010)
    conn.execute(
        tables.change_ticket_states.insert().values(
            source="jira",
            ticket="CHG-1",
            state="Approved",
            decision="approved",
            delivery="d",
            payload_digest=d,
            sent_at=t,
            received_at=t,
        )
    )
    subscription = conn.execute(
        tables.webhook_subscriptions.insert().values(
            url="http://127.0.0.1/", events="[]", secret_env="S", created_by="a", created_at=t
        )
    ).inserted_primary_key[0]
    conn.execute(
        tables.webhook_removals.insert().values(subscription_id=subscription, by="a", at=t)
    )
    # sign-in
    conn.execute(
        tables.passwords.insert().values(person="p", hash="$argon2id$", set_by="p", created_at=t)
    )
    conn.execute(
        tables.oidc_links.insert().values(
            issuer="https://idp", subject="s", person="p", created_by="a", created_at=t
        )
    )
    conn.execute(
        tables.web_sessions.insert().values(
            session_hash=d, person="p", method="password", created_at=t, expires_at=t
        )
    )
    session = conn.execute(sa.select(tables.web_sessions.c.id)).scalar()
    conn.execute(tables.web_session_ends.insert().values(session_id=session, reason="r", at=t))
    # reviewer links (0006)
    link = conn.execute(
        tables.share_links.insert().values(
            token_hash="0" * 64, releases="[]", note="", created_by="a", created_at=t, expires_at=t
        )
    ).inserted_primary_key[0]
    conn.execute(tables.share_revocations.insert().values(link_id=link, by="a", at=t))
    # attestation scope (0009)
    conn.execute(
        tables.attestation_revocations.insert().values(
            candidate=d,
            system_id="s",
            target="production",
            attestations="[]",
            reason="r",
            revoked_by="a",
            envelope="{}",
            created_at=t,
        )
    )
