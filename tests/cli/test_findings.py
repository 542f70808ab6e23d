"""Findings and acknowledgements through the command line: `check` shows the findings and
the command that accepts one, `finding list` names them, `finding accept` and `acknowledge`
sign as the identity given, and refusals exit 77 (not permitted) or 2 (bad input)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.builders import plan_document, write_plan_folder
from tests.cli.test_identity import ok, person, run
from tests.scanners.run import report, scanner_reports  # noqa: F401  (a fixture)

POLICY = (
    "apiVersion: clearance/v1\nkind: Policy\ntargets:\n  production:\n    accept_findings:\n"
    "      - {roles: [security], criteria: ['kind:findings']}\n"
)
ACCEPT = ("finding", "accept", "plan.yaml", "--criterion", "code-scan", "--rule", "B602",
          "--location", "service/score.py:12", "--role", "security")  # fmt: skip


@pytest.fixture
def here(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
    scanner_reports,  # noqa: F811
) -> Path:
    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLEARANCE_USER", "alice@example.com")
    monkeypatch.setenv("COLUMNS", "240")  # tables as wide as their rows (xdist sets 80)
    monkeypatch.setenv("CLEARANCE_HOME", str(tmp_path / "home"))
    if database_url:
        monkeypatch.setenv("CLEARANCE_DATABASE_URL", database_url)
    doc = plan_document()
    doc["criteria"].append(
        {"id": "code-scan", "kind": "findings", "evidence": "reports/bandit.sarif"}
    )
    doc["interested_parties"][0]["acknowledged_by"] = "applicants-advocate"
    project = tmp_path / "project"
    write_plan_folder(project, document=doc)
    (project / "reports").mkdir(exist_ok=True)
    shutil.copy(report(scanner_reports, "bandit"), project / "reports/bandit.sarif")
    monkeypatch.chdir(project)
    ok("init")
    ok("env", "declare", "production")
    Path("policy.yaml").write_text(POLICY)
    ok("policy", "set", "policy.yaml")
    return project


def test_check_shows_the_findings_and_how_to_accept_one(here: Path) -> None:
    code, out, _ = run("check", "plan.yaml", "--format", "markdown")
    assert code == 1
    assert "1 open high finding where none is allowed: B602 at service/score.py:12" in out
    assert (
        "clearance finding accept plan.yaml --criterion code-scan --rule B602 --location "
        "service/score.py:12 --role ROLE --expires 30d -m WHY"
    ) in out
    assert "clearance acknowledge plan.yaml --party 'Loan applicants'" in out
    code, table, _ = run("check", "plan.yaml")
    assert code == 1 and "code-scan" in table and "findings" in table
    listed = ok("finding", "list", "plan.yaml", "--criterion", "code-scan")
    assert "B602 at service/score.py:12" in listed and "--rule B602 --location" in listed
    rows = json.loads(
        ok("finding", "list", "plan.yaml", "--criterion", "code-scan", "--format", "json")
    )
    assert rows[0]["id"] == "B602" and rows[0]["severity"] == "high"


def test_accepting_and_acknowledging_sign_as_the_identity_given(here: Path) -> None:
    sam = person("sam@example.com", "security")
    pat = person("pat@example.com", "applicants-advocate")
    run("check", "plan.yaml")
    out = ok("--identity", sam, *ACCEPT, "--expires", "30d", "-m", "a constant command")
    assert "Accepted B602 at service/score.py:12 (high) of code-scan for candidate" in out
    assert "(sam@example.com, security) until" in out
    out = ok("--identity", pat, "acknowledge", "plan.yaml", "--party", "loan applicants",
             "-m", "Read with the panel")  # fmt: skip
    assert "Acknowledged Loan applicants for candidate" in out
    _, out, _ = run("check", "plan.yaml", "--format", "json")
    results = {r["id"]: r for r in json.loads(out)["criteria"]}
    scan, parties = results["code-scan"], results["parties"]
    assert scan["status"] == "passed"
    assert scan["observed"]["accepted"][0]["by"] == "sam@example.com"
    assert parties["status"] == "passed" and "pat@example.com" in parties["reason"]
    events = ok("log", "show")
    assert '"finding.accepted"' in events and '"party.acknowledged"' in events


def test_refusals_exit_77_or_2(here: Path) -> None:
    dana = person("dana@example.com", "model-risk")
    person("sam@example.com", "security")
    run("check", "plan.yaml")
    code, _, err = run(*ACCEPT, "--expires", "30d", "-m", "mine")  # alice owns the plan
    assert code == 77 and "does not hold role security" in err
    ok("people", "grant", "alice@example.com", "--role", "security")
    code, _, err = run(*ACCEPT, "--expires", "30d", "-m", "mine")
    assert code == 77 and "separation of duties" in err
    code, _, err = run("--identity", dana, "acknowledge", "plan.yaml", "--party",
                       "Loan applicants")  # fmt: skip
    assert code == 77 and "does not hold role applicants-advocate" in err
    for bad in (
        [*ACCEPT, "--vuln", "CVE-1", "--expires", "30d", "-m", "x"],
        ["finding", "accept", "plan.yaml", "--criterion", "code-scan", "--rule", "B602",
         "--role", "security", "--expires", "30d", "-m", "x"],
        [*ACCEPT, "--expires", "999999w", "-m", "x"],
        ["acknowledge", "plan.yaml", "--party", "Regulators"],
    ):  # fmt: skip
        code, _, err = run(*bad)
        assert code == 2, (bad, err)
        assert "Traceback" not in err


def test_a_broken_report_is_a_criterion_error_naming_the_file(here: Path) -> None:
    Path("reports/bandit.sarif").write_text('{"version": "2.1.0", "runs": [{"tool": {}}]}')
    code, out, err = run("check", "plan.yaml", "--format", "json")
    assert code == 1 and "Traceback" not in err
    scan = next(r for r in json.loads(out)["criteria"] if r["id"] == "code-scan")
    assert scan["status"] == "error"
    assert scan["reason"].startswith(
        "reports/bandit.sarif could not be read: reports/bandit.sarif: runs[0].tool.driver: "
        "expected an object, got null"
    )
