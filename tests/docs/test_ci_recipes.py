"""The CI recipes in docs/ci/ work as written: their `clearance` steps, run unmodified by bash
the way each runner runs them against a live `clearance serve`, block the deployment on
NO-GO and record the release on GO.

A step "calls Clearance" when one of its lines starts with `clearance `; the other steps
(checkout, installing packages, the project's own tests, the deployment itself) cannot run
here and are left out. The recipes say so in their header.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import add_service_account, make_token
from tests.builders import (
    SIGNERS,
    acting,
    attest,
    load,
    open_workspace,
    register_signers,
    signoff,
    write_plan_folder,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ci"
CLEARANCE = Path(sys.executable).with_name("clearance")
CI = "ci@example.com"
#: what each runner's environment gives the steps besides the two settings, and the URL of
#: the CI run that the evidence should name as its source
RUNNER_ENV = {
    "github-actions": {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/credit-scoring",
        "GITHUB_RUN_ID": "4242",
    },
    "gitlab-ci": {"CI_JOB_URL": "https://gitlab.example.com/acme/credit-scoring/-/jobs/4242"},
}
JOB_URL = {
    "github-actions": "https://github.com/acme/credit-scoring/actions/runs/4242",
    "gitlab-ci": "https://gitlab.example.com/acme/credit-scoring/-/jobs/4242",
}


@dataclass(frozen=True)
class Recipe:
    """The Clearance steps of a recipe's gate and deploy jobs, how its runner runs one step,
    the JUnit file the gate writes, what the deploy job needs and when the CI keeps the
    report."""

    shell: tuple[str, ...]
    gate: list[str]
    deploy: list[str]
    report: str
    deploy_needs: Any
    report_kept: str


def calls_clearance(step: str) -> bool:
    return any(line.lstrip().startswith("clearance ") for line in step.splitlines())


def github_actions() -> Recipe:
    jobs = yaml.safe_load((DOCS / "github-actions.yml").read_text())["jobs"]

    def runs(job: str) -> list[str]:
        steps = jobs[job]["steps"]
        return [s["run"] for s in steps if "run" in s and calls_clearance(s["run"])]

    upload = next(
        s for s in jobs["gate"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    # `shell: bash` runs a step as a script with these options.
    return Recipe(
        ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"),
        runs("gate"),
        runs("deploy"),
        upload["with"]["path"],
        jobs["deploy"]["needs"],
        upload["if"],
    )


def gitlab_ci() -> Recipe:
    doc = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())

    def lines(job: str) -> list[str]:
        return [line for line in doc[job]["script"] if calls_clearance(line)]

    artifacts = doc["gate"]["artifacts"]
    return Recipe(
        ("bash", "-eo", "pipefail", "-c"),
        lines("gate"),
        lines("deploy"),
        artifacts["reports"]["junit"],
        doc["deploy"]["needs"],
        artifacts["when"],
    )


RECIPES = {"github-actions": github_actions, "gitlab-ci": gitlab_ci}


@pytest.mark.parametrize("name", RECIPES)
def test_the_deploy_job_waits_for_the_gate_and_the_report_is_kept(name: str) -> None:
    """Deployment needs the gate job; the gate sends evidence and checks with JUnit output
    that the CI keeps even on NO-GO; the deploy job records the release; every Clearance step
    is plain shell (no `${{ }}` expression that only the runner could expand)."""
    recipe = RECIPES[name]()
    assert recipe.deploy_needs in ("gate", ["gate"])
    assert recipe.report_kept in ("always()", "always")
    assert [step.split()[:2] for step in recipe.gate] == [
        ["clearance", "evidence"],
        ["clearance", "check"],
    ]
    check = recipe.gate[1]
    assert f"--format junit > {recipe.report}" in check or f"--also junit={recipe.report}" in check
    assert "--also pr=clearance-pr.md" in check
    assert [step.split()[:2] for step in recipe.deploy] == [["clearance", "release"]]
    assert not any("${{" in step for step in recipe.gate + recipe.deploy)


@dataclass
class Server:
    url: str
    token: str
    ws: Any
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`clearance serve` on a workspace with the signers, the CI service account for the
    system and its token. The recipes do not depend on the store (the API suites run on
    SQLite and PostgreSQL), so this one runs on the workspace's own SQLite file."""
    ws = open_workspace(tmp_path / ".clearance")
    register_signers(ws, SIGNERS)
    add_service_account(ws, CI, ["credit-scoring:ci"])
    token = make_token(ws, CI, "ci-credit-scoring")
    env = _clean_env() | {
        "CLEARANCE_WORKSPACE": str(ws.settings.workspace),
        "CLEARANCE_HOME": str(tmp_path / "server-home"),
    }
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CLEARANCE), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"the server stopped:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no answer from the server:\n{log.read_text()}"
            time.sleep(0.1)
        yield Server(url, token, ws, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        ws.close()


def run_job(
    recipe: Recipe, steps: list[str], cwd: Path, env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    """Run steps in order as the runner does, stopping at the first that fails."""
    done = []
    for step in steps:
        proc = subprocess.run(
            [*recipe.shell, step], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
        )
        done.append(proc)
        if proc.returncode != 0:
            break
    return done


def failing(report: Path) -> set[str]:
    """The criteria a JUnit report from `clearance check` lists as failed."""
    root = ET.parse(report).getroot()
    return {
        case.get("name", "") for case in root.iter("testcase") if case.find("failure") is not None
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_the_recipe_blocks_deployment_on_no_go_and_records_the_release_on_go(
    name: str, server: Server, tmp_path: Path
) -> None:
    """Run as written with CLEARANCE_SERVER and CLEARANCE_TOKEN set, the gate job fails at the
    check with exit 1 while sign-offs are missing (so the deploy job, which needs it, never
    starts); once they are given, the same steps pass and the deploy job records the release
    by the CI account. The evidence names the CI run, and the server logs no token."""
    recipe = RECIPES[name]()
    assert recipe.deploy_needs in ("gate", ["gate"])
    plan = write_plan_folder(tmp_path / "repo")
    env = _clean_env() | RUNNER_ENV[name]
    env |= {
        "PATH": f"{CLEARANCE.parent}{os.pathsep}{env.get('PATH', '')}",
        "CLEARANCE_SERVER": server.url,
        "CLEARANCE_TOKEN": server.token,
        "CLEARANCE_HOME": str(tmp_path / "ci-home"),
    }
    assert shutil.which(recipe.shell[0], path=env["PATH"])
    report = plan.parent / recipe.report

    blocked = run_job(recipe, recipe.gate, plan.parent, env)
    assert [p.returncode for p in blocked] == [0, 1], [p.stderr for p in blocked]
    assert failing(report) == {"uat", "signoff"}
    comment = (plan.parent / "clearance-pr.md").read_text()
    assert "**NO-GO — 2 criteria block the release**" in comment
    assert "First release to production" in comment and "| signoff |" in comment
    if name == "github-actions":
        annotations = [line for line in blocked[1].stdout.splitlines() if line.startswith("::")]
        assert {a.split(" ", 1)[0] for a in annotations} == {"::error", "::notice"}
        assert any(a.startswith("::error title=signoff%3A pending") for a in annotations)
        assert all(",file=plan.yaml,line=" in a for a in annotations if a.startswith("::error"))

    ws = server.ws
    local = load(ws, plan)
    uat = local.resolve("docs/uat.md")
    attest(ws, local, "uat", uat, "carol@example.com", "product-owner")
    signoff(ws, local, "model-risk", "dana@example.com")
    signoff(ws, local, "eng-manager", "erik@example.com")

    passed = run_job(recipe, recipe.gate, plan.parent, env)
    assert [p.returncode for p in passed] == [0, 0], [p.stderr for p in passed]
    assert failing(report) == set()
    deployed = run_job(recipe, recipe.deploy, plan.parent, env)
    assert [p.returncode for p in deployed] == [0], [p.stderr for p in deployed]

    from clearance.services.releases import status
    from clearance.store.repository import evidence_of

    inventory = status(ws).inventory
    assert [(d.component.name, d.target, d.released_by) for d in inventory] == [
        ("scorer", "production", CI)
    ]
    with ws.engine.connect() as conn:
        attached = evidence_of(conn, acting(ws, None).candidate(local))
    sent = {(e.criterion_id, e.name, e.added_by, e.source) for e in attached}
    assert ("tests", "junit.xml", CI, JOB_URL[name]) in sent
    log = server.log.read_text()
    assert server.token not in log
    assert "Traceback" not in log
