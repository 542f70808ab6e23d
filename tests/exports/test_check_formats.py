"""`clearance check` run for real on a workspace: every machine format is valid for the
third-party definition CI tools read it by (JUnit: Ant's and Jenkins' XSDs with lxml;
SARIF: the OASIS schema with jsonschema; JSON: the schema `clearance schema --output json`
prints, with jsonschema), and every format warns about a passing criterion that covers no
control requirement."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from tests.builders import plan_document, write_plan_folder
from tests.cli.harness import Completed, invoke
from tests.exports.test_sarif import assert_valid
from tests.schemas import junit_schema, sarif_errors

WARNING = "uat passed but covers nothing in the control matrix"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A NO-GO plan (sign-offs missing) whose `uat` passes with no `controls:`, with an
    advisory criterion that fails."""
    root = tmp_path_factory.mktemp("formats")
    document = plan_document()
    document["criteria"][2] = {
        "id": "uat",
        "kind": "evidence",
        "title": "User acceptance testing",
        "documents": ["docs/uat.md"],
    }
    document["criteria"].append(
        {
            "id": "drift",
            "kind": "metric",
            "evidence": "eval/metrics.json",
            "metric": "holdout.auc",
            "threshold": 0.95,
            "advisory": True,
        }
    )
    write_plan_folder(root, document=document)
    assert invoke(root, "init").returncode == 0
    assert invoke(root, "env", "declare", "production").returncode == 0
    return root


def check(project: Path, fmt: str) -> Completed:
    done = invoke(project, "check", "plan.yaml", "--format", fmt)
    assert done.returncode == 1, done.stderr  # NO-GO
    return done


def line_of(project: Path, text: str) -> int:
    lines = (project / "plan.yaml").read_text(encoding="utf-8").splitlines()
    return next(i + 1 for i, line in enumerate(lines) if line.strip() == text)


def test_json_follows_the_schema_the_command_publishes(project: Path) -> None:
    published = invoke(project, "schema", "--output", "json")
    assert published.returncode == 0, published.stderr
    schema_ = json.loads(published.stdout)
    jsonschema.Draft202012Validator.check_schema(schema_)
    found = json.loads(check(project, "json").stdout)
    assert list(jsonschema.Draft202012Validator(schema_).iter_errors(found)) == []
    assert found["schema_version"] == schema_["properties"]["schema_version"]["const"]
    assert found["revision"].startswith("sha256:") and found["system"] == "credit-scoring"
    assert [w["criterion"] for w in found["warnings"]] == ["uat"]
    assert WARNING in found["warnings"][0]["message"]


def test_schema_without_output_is_still_the_plan_schema(project: Path) -> None:
    done = invoke(project, "schema")
    assert done.returncode == 0
    found = json.loads(done.stdout)
    assert found["$id"] == "https://clearance.dev/schemas/plan/v1.json"
    assert found["title"] == "Clearance deployment plan"


def test_junit_carries_what_ci_tools_read(project: Path) -> None:
    root = etree.fromstring(check(project, "junit").stdout.encode("utf-8"))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("hostname") and suite.get("timestamp") and suite.get("time")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["clearance.decision"] == "NO-GO"
    assert (properties["clearance.revision"] or "").startswith("sha256:")
    assert properties["clearance.advisory"] == "drift"
    drift = next(c for c in suite.iter("testcase") if c.get("name") == "drift")
    assert len(drift) == 0 and drift.get("classname") == "clearance.advisory.metric"
    for xsd in ("jenkins-junit.xsd", "ant-junit.xsd"):
        schema = junit_schema(xsd)
        assert schema.validate(root), (xsd, [str(e) for e in schema.error_log])
    assert WARNING in (suite.findtext("system-out") or "")


def test_sarif_is_valid_and_points_at_the_plan(project: Path) -> None:
    found = json.loads(check(project, "sarif").stdout)
    assert_valid(found)
    assert sarif_errors(found) == []
    run = found["runs"][0]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"signoff", "drift"}
    assert (results["signoff"]["level"], results["drift"]["level"]) == ("error", "warning")
    place = results["signoff"]["locations"][0]["physicalLocation"]
    assert place["artifactLocation"]["uri"] == "plan.yaml"
    assert place["region"]["startLine"] == line_of(project, "- id: signoff")
    (notice,) = run["invocations"][0]["toolExecutionNotifications"]
    assert WARNING in notice["message"]["text"]
    region = notice["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == line_of(project, "- id: uat")


def test_markdown_and_table_warn_about_the_unmapped_criterion(project: Path) -> None:
    markdown = check(project, "markdown").stdout
    assert "### Warnings" in markdown and WARNING in markdown
    assert "criteria[id=uat].controls" in markdown
    table = check(project, "table").stdout
    assert "warning:" in table and WARNING in " ".join(table.split())
