"""A team as the API sees it: a workspace (SQLite or PostgreSQL) with people, a CI service
account, tokens for each, and the app served in-process (Starlette's TestClient, an httpx
client, so the CLI's RemoteClient runs over it unchanged)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.builders import ADMIN, Clock, acting, open_workspace, register_signers

CI = "ci@example.com"
AUDITOR = "audrey@example.com"
OUTSIDER = "olga@example.com"
PEOPLE = {
    "alice@example.com": ["model-risk"],
    "dana@example.com": ["model-risk"],
    "erik@example.com": ["eng-manager"],
    "carol@example.com": ["product-owner"],
    AUDITOR: ["auditor"],
    OUTSIDER: ["other-system:model-risk"],
}


@dataclass
class Team:
    ws: Any
    http: Any
    tokens: dict[str, str] = field(default_factory=dict)
    clients: list[Any] = field(default_factory=list)

    def as_(self, person: str | None) -> dict[str, str]:
        """Headers of `person`'s token (none for None)."""
        return {} if person is None else {"Authorization": f"Bearer {self.tokens[person]}"}

    def remote(self, person: str, *, key: bool = True) -> Any:
        """The CLI's RemoteClient for `person`, over the in-process app."""
        from fastapi.testclient import TestClient

        from clearance.client.remote import RemoteClient

        http = TestClient(self.http.app, raise_server_exceptions=False, headers=self.as_(person))
        self.clients.append(http)
        return RemoteClient(self.ws.settings, http, self.ws.keys.get(person) if key else None)


def make_token(ws: Any, person: str, name: str, scopes: list[str] | None = None, **kw: Any) -> str:
    from datetime import timedelta

    from clearance.services.tokens import create_token
    from clearance.store.records import to_time

    expires = kw.get("expires") or ws.clock() + timedelta(days=30)
    args = {"name": name, "person": person, "scopes": scopes or [], "expires": to_time(expires)}
    return create_token(ws, acting(ws, ADMIN).admin_statement("token.create", args)).secret


def add_service_account(ws: Any, name: str, roles: list[str]) -> None:
    from clearance.services.people import add_person

    args = {"name": name, "roles": roles, "kind": "service"}
    add_person(ws, acting(ws, ADMIN).admin_statement("person.add", args))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def team(tmp_path: Path, database_url: str | None, clock: Clock) -> Iterator[Team]:
    from fastapi.testclient import TestClient

    from clearance.api.app import create_app

    ws = open_workspace(tmp_path / ".clearance", database_url, clock)
    register_signers(ws, PEOPLE)
    add_service_account(ws, CI, ["credit-scoring:ci"])
    tokens = {
        name: make_token(ws, name, f"t-{i}", ["read"] if name == AUDITOR else None)
        for i, name in enumerate([ADMIN, *PEOPLE, CI])
    }
    app = create_app(ws.settings, workspace=ws)
    with TestClient(app, raise_server_exceptions=False) as http:
        made = Team(ws, http, tokens)
        yield made
        for other in made.clients:
            other.close()
    ws.close()
