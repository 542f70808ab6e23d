"""schemathesis against the OpenAPI schema of a live `clearance serve` on loopback, with an
administrator's token and every check: no server errors, answers as the schema says.
`make test` runs a bounded number of examples; `make soak` (CLEARANCE_SOAK=1) many more."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import open_workspace, register_signers, write_plan_folder

SOAK = os.environ.get("CLEARANCE_SOAK") == "1"


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    fuzz(tmp_path, examples=4, phases="examples,coverage,fuzzing", timeout=300)


@pytest.mark.soak
@pytest.mark.skipif(not SOAK, reason="a long run: make soak (CLEARANCE_SOAK=1)")
def test_schemathesis_soak(tmp_path: Path) -> None:
    fuzz(tmp_path, examples=100, phases="examples,coverage,fuzzing,stateful", timeout=3600)


def fuzz(tmp_path: Path, *, examples: int, phases: str, timeout: int) -> None:
    from clearance.settings import WORKSPACE_DIRNAME
    from tests.api.conftest import make_token
    from tests.builders import ADMIN, check, load
    from tests.live import ServeProcess

    ws = open_workspace(tmp_path / WORKSPACE_DIRNAME)
    register_signers(ws)
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))  # something to read
    token = make_token(ws, ADMIN, "fuzz")
    ws.close()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CLEARANCE_WORKSPACE": str(tmp_path / WORKSPACE_DIRNAME),
    }
    server = ServeProcess(env, tmp_path)
    try:
        st = Path(sys.executable).parent / "st"
        run = subprocess.run(
            [
                str(st), "run", f"{server.url}/api/v1/openapi.json",
                "--header", f"Authorization: Bearer {token}",
                "--checks", "all",
                # A plan's validity and a statement's signature are beyond what JSON Schema
                # can say, so a schema-valid request may rightly be refused (422, 403).
                "--exclude-checks", "positive_data_acceptance",
                "--max-examples", str(examples),
                "--phases", phases,
                "--seed", "42",
                "--workers", "1",
                "--no-color",
                "--output-truncate", "true",
                "--request-timeout", "30",
                "--generation-database", "none",
                "--suppress-health-check", "all",
            ],
            cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    finally:
        server.stop()
    log = server.output()
    bugs = [part.split("\nINFO")[0][-1500:] for part in log.split("internal error")[1:]]
    assert bugs == [], "\n---\n".join(bugs[:3])
    assert run.returncode == 0, run.stdout[-6000:]
