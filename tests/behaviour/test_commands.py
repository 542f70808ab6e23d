"""One behaviour suite for the commands a team runs, in both modes: on the local workspace,
and against a live server on loopback (CLEARANCE_SERVER, CLEARANCE_TOKEN). Same commands,
same exit codes, same answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from clearance.signing import b64
from tests.builders import ADMIN, open_workspace, register_signers, write_plan_folder
from tests.cli.harness import Completed, invoke
from tests.scanners.run import scanner_reports  # noqa: F401  (a fixture)

CI, DANA, ERIK, CAROL, ALICE = (
    f"{n}@example.com" for n in ("ci", "dana", "erik", "carol", "alice")
)
PEOPLE = {
    ALICE: ["model-risk"],
    DANA: ["model-risk"],
    ERIK: ["eng-manager"],
    CAROL: ["product-owner"],
    "rita@example.com": ["risk-officer"],
}
POLICY = """
apiVersion: clearance/v1
kind: Policy
targets:
  production:
    waivers:
      - {roles: [risk-officer], criteria: [uat]}
    accept_findings:
      - {roles: [risk-officer], criteria: ["kind:findings"]}
"""


@dataclass
class World:
    mode: str
    root: Path
    plan: Path
    ws: object
    url: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Path] = field(default_factory=dict)

    def run(self, person: str | None, *args: str) -> Completed:
        """`clearance ARGS` as `person` (their key; their token when remote)."""
        env = {"CLEARANCE_HOME": str(self.root / "home")}
        if person is not None and person in self.keys:
            env["CLEARANCE_IDENTITY"] = str(self.keys[person])
        if self.mode == "remote":
            env["CLEARANCE_SERVER"] = str(self.url)
            env["CLEARANCE_TOKEN"] = self.tokens.get(person or CI, "")
        else:
            env["CLEARANCE_WORKSPACE"] = str(self.root / ".clearance")
            if self.ws.settings.database_url:  # type: ignore[attr-defined]
                env["CLEARANCE_DATABASE_URL"] = self.ws.settings.database_url  # type: ignore[attr-defined]
        return invoke(self.plan.parent, *args, env=env)


@pytest.fixture(params=["local", "remote"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str | None
) -> Iterator[World]:
    from clearance.api.app import create_app
    from tests.api.conftest import add_service_account, make_token
    from tests.builders import set_policy
    from tests.live import served

    ws = open_workspace(tmp_path / ".clearance", database_url)
    register_signers(ws, PEOPLE)
    add_service_account(ws, CI, ["credit-scoring:ci"])
    set_policy(ws, POLICY)
    keys = {}
    for name, key in ws.keys.items():
        path = tmp_path / "keys" / f"{name}.pem"
        key.save(path)
        keys[name] = path
    plan = write_plan_folder(tmp_path / "project")
    world = World(request.param, tmp_path, plan, ws, keys=keys)
    if request.param == "local":
        yield world
    else:
        world.tokens = {n: make_token(ws, n, f"t-{i}") for i, n in enumerate([ADMIN, *PEOPLE, CI])}
        with served(create_app(ws.settings, workspace=ws)) as url:
            world.url = url
            yield world
    ws.close()


def test_the_release_story_has_the_same_exit_codes(world: World) -> None:
    run = world.run
    first = run(CI, "check", "plan.yaml", "--format", "json")
    assert first.returncode == 1, first.stderr
    assert json.loads(first.stdout)["decision"] == "NO-GO"
    table = run(CI, "check", "plan.yaml")
    assert table.returncode == 1 and "NO-GO" in table.stdout and "uat" in table.stdout

    owner = run(ALICE, "approve", "plan.yaml", "--role", "model-risk")
    assert owner.returncode == 77 and "separation of duties" in owner.stderr
    attested = run(
        CAROL, "evidence", "add", "docs/uat.md", "--plan", "plan.yaml", "--criterion", "uat",
        "--role", "product-owner",
    )  # fmt: skip
    assert attested.returncode == 0, attested.stderr
    assert "attested as product-owner by carol@example.com" in attested.stdout
    for person, role in ((DANA, "model-risk"), (ERIK, "eng-manager")):
        signed = run(person, "approve", "plan.yaml", "--role", role, "-m", "fine")
        assert signed.returncode == 0, signed.stderr
        assert f"({person})" in signed.stdout
    go = run(CI, "check", "plan.yaml", "--format", "junit")
    assert go.returncode == 0, go.stdout + go.stderr
    assert "<testsuite" in go.stdout

    released = run(ADMIN, "release", "plan.yaml")
    assert released.returncode == 0, released.stderr
    assert "Released credit-scoring 2.4.0 to production" in released.stdout
    status = run(ADMIN, "status")
    assert status.returncode == 0 and "scorer" in status.stdout and "production" in status.stdout

    pack = world.root / "pack.zip"
    exported = run(ADMIN, "export", "plan.yaml", "-o", str(pack))
    assert exported.returncode == 0, exported.stderr
    key = world.root / "workspace.pub"
    key.write_text(b64(world.ws.signing_key.public_raw))  # type: ignore[attr-defined]
    verified = run(None, "pack", "verify", str(pack), "--key", str(key))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    kept = world.root / "checkpoint.json"
    assert run(ADMIN, "log", "checkpoint", "-o", str(kept)).returncode == 0
    log = run(ADMIN, "log", "verify", "--since", str(kept))
    assert log.returncode == 0 and "Log verified" in log.stdout, log.stderr
    proof = run(ADMIN, "log", "prove", "3")
    assert proof.returncode == 0 and json.loads(proof.stdout)["leaf_index"] == 2


def test_submit_reject_withdraw_waive_revoke(world: World) -> None:
    run = world.run
    submitted = run(ALICE, "plan", "submit", "plan.yaml", "-m", "First release")
    assert submitted.returncode == 0, submitted.stderr
    assert "Submitted revision sha256:" in submitted.stdout
    assert (
        "Revision already recorded" in run(ALICE, "plan", "submit", "plan.yaml", "-m", "x").stdout
    )
    assert run(CI, "check", "plan.yaml").returncode == 1
    rejected = run(DANA, "reject", "plan.yaml", "--role", "model-risk", "-m", "gap too wide")
    assert rejected.returncode == 0, rejected.stderr
    withdrawn = run(DANA, "withdraw", "plan.yaml", "--role", "model-risk")
    assert withdrawn.returncode == 0, withdrawn.stderr
    again = run(DANA, "withdraw", "plan.yaml", "--role", "model-risk")
    assert again.returncode == 2 and "no standing rejection" in again.stderr

    by_owner = run(ALICE, "waive", "plan.yaml", "--criterion", "uat", "--role", "risk-officer",
                   "--expires", "7d", "-m", "pilot")  # fmt: skip
    assert by_owner.returncode == 77
    waived = run("rita@example.com", "waive", "plan.yaml", "--criterion", "uat",
                 "--role", "risk-officer", "--expires", "7d", "-m", "pilot")  # fmt: skip
    assert waived.returncode == 0, waived.stderr
    checked = json.loads(run(CI, "check", "plan.yaml", "--format", "json").stdout)
    assert {c["id"]: c["status"] for c in checked["criteria"]}["uat"] == "waived"
    revoked = run("rita@example.com", "waiver", "revoke", "plan.yaml", "--criterion", "uat",
                  "-m", "report arrived")  # fmt: skip
    assert revoked.returncode == 0 and "Revoked the waiver of uat by rita" in revoked.stdout


def test_bad_input_is_exit_2_with_the_position(world: World) -> None:
    world.plan.write_text(world.plan.read_text().replace("target: production", "target: mars"))
    bad = world.run(CI, "check", "plan.yaml")
    assert bad.returncode == 2
    assert "plan.yaml:" in bad.stderr and "mars" in bad.stderr and "Traceback" not in bad.stderr


def test_a_no_go_release_is_exit_1_with_reasons(world: World) -> None:
    refused = world.run(ADMIN, "release", "plan.yaml")
    assert refused.returncode == 1
    assert "NO-GO" in refused.stderr and "uat" in refused.stderr


def test_remote_failures_of_their_own(world: World) -> None:
    if world.mode == "local":
        pytest.skip("a server's own failures")
    world.tokens[CI] = "clr_" + "x" * 43
    unknown = world.run(CI, "check", "plan.yaml")
    assert unknown.returncode == 77 and "API token is not known" in unknown.stderr
    world.tokens[CI] = ""
    missing = world.run(CI, "status")
    assert missing.returncode == 77 and "CLEARANCE_TOKEN" in missing.stderr
    world.url = "http://127.0.0.1:9"  # nothing listens there
    world.tokens[CI] = "clr_whatever"
    down = world.run(CI, "status")
    assert down.returncode == 69 and "cannot reach the Clearance server" in down.stderr
    local_only = world.run(ADMIN, "people", "list")
    assert local_only.returncode == 2 and "local workspace" in local_only.stderr


def test_findings_are_listed_accepted_and_parties_acknowledged(
    world: World,
    scanner_reports,  # noqa: F811
) -> None:
    import shutil

    import yaml

    from tests.scanners.run import report

    doc = yaml.safe_load(world.plan.read_text())
    doc["criteria"].append(
        {"id": "code-scan", "kind": "findings", "evidence": "reports/bandit.sarif"}
    )
    doc["interested_parties"][0]["acknowledged_by"] = "risk-officer"
    world.plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(report(scanner_reports, "bandit"), world.plan.parent / "reports/bandit.sarif")
    run = world.run
    assert run(CI, "check", "plan.yaml").returncode == 1
    listed = run(
        DANA, "finding", "list", "plan.yaml", "--criterion", "code-scan", "--format", "json"
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["id"] == "B602"
    accept = ("finding", "accept", "plan.yaml", "--criterion", "code-scan", "--rule", "B602",
              "--location", "service/score.py:12", "--expires", "7d", "-m", "ok")  # fmt: skip
    by_owner = run(ALICE, *accept, "--role", "risk-officer")
    assert by_owner.returncode == 77, by_owner.stderr
    accepted = run("rita@example.com", *accept, "--role", "risk-officer")
    assert accepted.returncode == 0, accepted.stderr
    assert "Accepted B602" in accepted.stdout
    acknowledged = run("rita@example.com", "acknowledge", "plan.yaml", "--party", "Loan applicants")
    assert acknowledged.returncode == 0, acknowledged.stderr
    checked = json.loads(run(CI, "check", "plan.yaml", "--format", "json").stdout)
    assert {c["id"]: c["status"] for c in checked["criteria"]}["code-scan"] == "passed"
