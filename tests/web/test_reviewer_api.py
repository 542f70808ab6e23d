"""Reviewer links through the API (/api/v1/shares): the same rules as the command line, the
URL in the creating answer only, and a link's access log for its managers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import make_token
from tests.builders import ADMIN, acting
from tests.services.test_shares import DANA, OWNER, SYSTEM, VERSION, Shared, shared_workspace

API = "/api/v1"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Shared, TestClient, dict[str, dict[str, str]]]]:
    from clearance.api.app import create_app
    from clearance.services.people import add_person

    shared = shared_workspace(tmp_path)
    outsider = {"name": "olga@example.com", "roles": ["other:model-risk"]}
    add_person(shared.ws, acting(shared.ws, ADMIN).admin_statement("person.add", outsider))
    heads = {
        who: {"Authorization": f"Bearer {make_token(shared.ws, who, who.split('@')[0])}"}
        for who in (OWNER, DANA, ADMIN, "olga@example.com")
    }
    with TestClient(create_app(shared.ws.settings, workspace=shared.ws)) as client:
        yield shared, client, heads
    shared.ws.close()


def body(expires: str = "7d") -> dict[str, object]:
    return {"releases": [{"system": SYSTEM, "version": VERSION}], "expires": expires, "note": "Q4"}


def test_create_list_use_revoke_over_the_api(env: tuple[Shared, TestClient, dict]) -> None:
    _shared, client, heads = env
    made = client.post(
        f"{API}/shares", json=body(), headers={**heads[OWNER], "Idempotency-Key": "k1"}
    )
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert url.startswith("http://127.0.0.1:8000/r/crv_") and made.json()["created_by"] == OWNER
    again = client.post(
        f"{API}/shares", json=body(), headers={**heads[OWNER], "Idempotency-Key": "k1"}
    )
    assert again.status_code == 400 and "crv_" not in again.text  # the secret is not kept
    link_id = made.json()["id"]
    path = url.removeprefix("http://127.0.0.1:8000")
    assert client.get(path).status_code == 200
    listed = client.get(f"{API}/shares", headers=heads[OWNER]).json()["items"]
    assert [(s["id"], s["state"], s["views"]) for s in listed] == [(link_id, "active", 1)]
    assert "crv_" not in str(listed)
    log = client.get(f"{API}/shares/{link_id}/access", headers=heads[OWNER]).json()
    assert [a["kind"] for a in log["access"]] == ["viewed"]
    assert log["access"][0]["address"] == "testclient"
    revoked = client.post(f"{API}/shares/{link_id}/revocation", headers=heads[OWNER])
    assert revoked.status_code == 201 and revoked.json()["revoked_by"] == OWNER
    assert client.get(path).status_code == 404


def test_the_api_refuses_as_the_cli_does(env: tuple[Shared, TestClient, dict]) -> None:
    _shared, client, heads = env
    assert client.post(f"{API}/shares", json=body()).status_code == 401
    dana = client.post(f"{API}/shares", json=body(), headers=heads[DANA])
    assert dana.status_code == 403 and "only its owner" in dana.json()["error"]["message"]
    olga = client.post(f"{API}/shares", json=body(), headers=heads["olga@example.com"])
    assert olga.status_code == 404  # a system the caller cannot see does not exist
    long = client.post(f"{API}/shares", json=body("31d"), headers=heads[OWNER])
    assert long.status_code == 400 and "30 days" in long.json()["error"]["message"]
    link_id = client.post(f"{API}/shares", json=body(), headers=heads[ADMIN]).json()["id"]
    assert client.post(f"{API}/shares/{link_id}/revocation", headers=heads[DANA]).status_code == 403
    assert client.get(f"{API}/shares/{link_id}/access", headers=heads[DANA]).status_code == 403
    assert client.get(f"{API}/shares", headers=heads[DANA]).json()["items"] == []
