"""API tokens: only an administrator makes one, for a registered holder, within what that
holder may do; a service account's token never signs; anyone revokes only their own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clearance.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UsageError,
)
from clearance.services.tokens import create_token, revoke_token, token_principal
from clearance.store.records import to_time
from tests.api.conftest import add_service_account
from tests.builders import ADMIN, acting, open_workspace, register_signers

DANA, ERIK, CI = "dana@example.com", "erik@example.com", "ci@example.com"


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Any]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    register_signers(workspace, {DANA: ["model-risk"], ERIK: ["eng-manager"]})
    add_service_account(workspace, CI, ["credit-scoring:ci"])
    yield workspace
    workspace.close()


def create(ws: Any, by: str = ADMIN, **args: Any) -> Any:
    given = {
        "name": "t",
        "person": DANA,
        "scopes": [],
        "expires": to_time(ws.clock() + timedelta(days=30)),
        **args,
    }
    return create_token(ws, acting(ws, by).admin_statement("token.create", given))


def revoke(ws: Any, name: str, by: str) -> str:
    return revoke_token(ws, acting(ws, by).admin_statement("token.revoke", {"name": name}))


def test_only_an_administrator_makes_a_token_even_for_themself(ws: Any) -> None:
    with pytest.raises(ForbiddenError, match="manage API tokens"):
        create(ws, by=DANA)  # dana's own token, signed by dana
    with pytest.raises(ForbiddenError, match="manage API tokens"):
        create(ws, by=DANA, person=ERIK)  # someone else's


def test_a_token_is_for_a_registered_holder_within_its_powers(ws: Any) -> None:
    with pytest.raises(NotFoundError, match="nobody"):
        create(ws, person="nobody@example.com")
    with pytest.raises(UsageError, match="service account"):
        create(ws, person=CI, scopes=["sign"])
    with pytest.raises(UsageError, match="service account"):
        create(ws, person=CI, scopes=["read", "admin"])
    with pytest.raises(UsageError, match="not an administrator"):
        create(ws, person=DANA, scopes=["admin"])
    with pytest.raises(UsageError, match="not a token scope"):
        create(ws, scopes=["everything"])
    with pytest.raises(UsageError, match="not a token name"):
        create(ws, name="../x")


@pytest.mark.parametrize("days", [-1, 0, 367])
def test_a_token_expires_after_now_and_within_a_year(ws: Any, days: int) -> None:
    with pytest.raises(UsageError, match="expires"):
        create(ws, expires=to_time(ws.clock() + timedelta(days=days)))


def test_default_scopes_follow_the_holder(ws: Any) -> None:
    assert create(ws, name="ci", person=CI).token.scopes == ("read", "write")
    assert create(ws, name="dana", person=DANA).token.scopes == ("read", "sign", "write")
    assert set(create(ws, name="admin", person=ADMIN).token.scopes) == {
        "read", "write", "sign", "admin",
    }  # fmt: skip


def test_a_name_is_taken_once(ws: Any) -> None:
    create(ws)
    with pytest.raises(ConflictError, match="exists already"):
        create(ws, person=ERIK)


def test_the_secret_names_its_holder_until_revoked(ws: Any) -> None:
    made = create(ws)
    with ws.engine.connect() as conn:
        who = token_principal(conn, made.secret, ws.clock())
    assert (who.name, who.token, who.scopes) == (DANA, "t", frozenset(made.token.scopes))
    with pytest.raises(ForbiddenError, match="manage API tokens"):
        revoke(ws, "t", by=ERIK)  # not his token, not an administrator
    assert revoke(ws, "t", by=DANA) == "t"  # her own
    with pytest.raises(UsageError, match="revoked"):
        revoke(ws, "t", by=ADMIN)
    with ws.engine.connect() as conn, pytest.raises(AuthenticationError, match="revoked"):
        token_principal(conn, made.secret, ws.clock())


def test_an_unknown_or_malformed_or_expired_secret_is_refused(ws: Any) -> None:
    made = create(ws, expires=to_time(ws.clock() + timedelta(days=1)))
    with ws.engine.connect() as conn:
        with pytest.raises(AuthenticationError, match="malformed"):
            token_principal(conn, "Bearer-ish", ws.clock())
        with pytest.raises(AuthenticationError, match="not known"):
            token_principal(conn, made.secret + "x", ws.clock())
        with pytest.raises(AuthenticationError, match="expired"):
            token_principal(conn, made.secret, ws.clock() + timedelta(days=2))


def test_a_token_row_written_behind_the_service_is_named_by_verify(ws: Any) -> None:
    """No token.created event records a row inserted directly, so `verify` names it."""
    import sqlalchemy as sa

    from clearance.services.integrity import verify_workspace
    from clearance.services.tokens import token_hash
    from clearance.store import tables as t

    now = to_time(ws.clock())
    with ws.engine.begin() as conn:
        conn.execute(
            sa.insert(t.api_tokens).values(
                name="forged", person=DANA, scopes='["admin", "read", "sign", "write"]',
                token_hash=token_hash("clr_forged"), created_by=ADMIN, created_at=now,
                expires_at=to_time(ws.clock() + timedelta(days=1)),
            )
        )  # fmt: skip
    _checked, failures = verify_workspace(ws)
    assert any("api_tokens" in f for f in failures), failures
