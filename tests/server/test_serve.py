"""`clearance serve` as a process: it refuses what it cannot serve, and no API token ever
reaches its log, not even one pasted into a URL."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.builders import ADMIN, open_workspace
from tests.cli.harness import invoke

pytestmark = pytest.mark.slow


def test_tokens_never_reach_the_log(tmp_path: Path) -> None:
    from clearance.settings import WORKSPACE_DIRNAME
    from tests.api.conftest import make_token
    from tests.live import ServeProcess

    ws = open_workspace(tmp_path / WORKSPACE_DIRNAME)
    token = make_token(ws, ADMIN, "admin")
    ws.close()
    env = {"PATH": os.environ["PATH"], "CLEARANCE_WORKSPACE": str(tmp_path / WORKSPACE_DIRNAME)}
    server = ServeProcess(env, tmp_path)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{server.url}/api/v1/systems", headers=auth).status_code == 200
        wrong = {"Authorization": f"Bearer {token}x"}
        assert httpx.get(f"{server.url}/api/v1/systems", headers=wrong).status_code == 401
        pasted = httpx.get(f"{server.url}/api/v1/systems?token={token}", headers=auth)
        assert pasted.status_code == 200
        assert httpx.get(f"{server.url}/api/v1/{token}", headers=auth).status_code == 404
    finally:
        server.stop()
    log = server.output()
    assert "GET /api/v1/systems" in log  # the access log is on
    assert token not in log and token[4:20] not in log
    assert "clr_[redacted]" in log


def test_serve_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    missing = invoke(tmp_path, "serve", "--port", "0", env={})
    assert missing.returncode == 2 and "no Clearance workspace" in missing.stderr
    remote = invoke(tmp_path, "serve", env={"CLEARANCE_SERVER": "http://127.0.0.1:9"})
    assert remote.returncode == 2 and "unset CLEARANCE_SERVER" in remote.stderr
    team = invoke(
        tmp_path,
        "serve",
        env={
            "CLEARANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
            "CLEARANCE_BLOB_URL": f"file://{tmp_path / 'blobs'}",
        },
    )
    assert team.returncode == 2 and "clearance db upgrade" in team.stderr
