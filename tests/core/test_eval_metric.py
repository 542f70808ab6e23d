"""The metric evaluator: dotted paths into JSON/YAML/CSV, thresholds, and regression bounds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from core_testkit import NOW, evaluate, item

from clearance.core.results import ReleasedCandidate, Status, TestReport

FILE = "eval/metrics.json"
AUC = {
    "id": "auc",
    "kind": "metric",
    "evidence": FILE,
    "metric": "holdout.auc",
    "op": ">=",
    "threshold": 0.85,
}
REGRESSION = {
    "id": "no-regression",
    "kind": "metric",
    "evidence": FILE,
    "metric": "holdout.auc",
    "baseline": "released",
    "max_drop": 0.01,
}


def released(**metrics: float) -> ReleasedCandidate:
    return ReleasedCandidate(
        version="2.3.0",
        candidate="sha256:" + "1" * 64,
        released_at=NOW - timedelta(days=40),
        metrics=metrics,
    )


def doc(value: Any) -> dict[str, Any]:
    return {"holdout": {"auc": value, "f1": 0.7}}


CASES = [
    # --- thresholds -------------------------------------------------------------------------
    pytest.param(
        AUC,
        [item(FILE, doc(0.91))],
        {},
        Status.PASSED,
        ["holdout.auc is 0.91 in eval/metrics.json", "meeting >= 0.85"],
        0.91,
        ">= 0.85",
        id="threshold-met",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc(0.85))],
        {},
        Status.PASSED,
        ["meeting >= 0.85"],
        0.85,
        ">= 0.85",
        id="threshold-met-exactly",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc(0.84))],
        {},
        Status.FAILED,
        ["holdout.auc is 0.84 in eval/metrics.json; the plan requires >= 0.85"],
        0.84,
        ">= 0.85",
        id="threshold-missed",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc(0.849999))],
        {},
        Status.FAILED,
        ["is 0.849999 in", "requires >= 0.85"],
        0.849999,
        ">= 0.85",
        id="near-miss-shows-enough-digits",
    ),
    pytest.param(
        {**AUC, "metric": "latency_ms", "op": "<", "threshold": 200},
        [item(FILE, {"latency_ms": 250})],
        {},
        Status.FAILED,
        ["latency_ms is 250", "requires < 200"],
        250,
        "< 200",
        id="upper-bound-missed",
    ),
    pytest.param(
        {**AUC, "metric": "rows", "op": "==", "threshold": 1000},
        [item(FILE, {"rows": 1000})],
        {},
        Status.PASSED,
        ["rows is 1000"],
        1000,
        "== 1000",
        id="equality",
    ),
    pytest.param(
        {**AUC, "metric": "holdout.auc", "op": ">", "threshold": 0.123456},
        [item(FILE, doc(0.2))],
        {},
        Status.PASSED,
        ["meeting > 0.1235"],
        0.2,
        "> 0.123456",
        id="reason-rounds-expected-stays-exact",
    ),
    pytest.param(
        {**AUC, "advisory": True},
        [item(FILE, doc(0.5))],
        {},
        Status.FAILED,
        ["requires >= 0.85"],
        0.5,
        ">= 0.85",
        id="advisory-still-evaluated",
    ),
    # --- where the value is -----------------------------------------------------------------
    pytest.param(
        {**AUC, "metric": "holdout.auc"},
        [item(FILE, {"holdout.auc": 0.9})],
        {},
        Status.PASSED,
        ["is 0.9"],
        0.9,
        ">= 0.85",
        id="key-with-dots",
    ),
    pytest.param(
        {**AUC, "metric": "eval.holdout.auc.macro"},
        [item(FILE, {"eval": {"holdout": {"auc.macro": 0.88}}})],
        {},
        Status.PASSED,
        ["is 0.88"],
        0.88,
        ">= 0.85",
        id="dotted-key-deeper-down",
    ),
    pytest.param(
        {**AUC, "metric": "runs.1.auc"},
        [item(FILE, {"runs": [{"auc": 0.8}, {"auc": 0.9}]})],
        {},
        Status.PASSED,
        ["runs.1.auc is 0.9"],
        0.9,
        ">= 0.85",
        id="list-index",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc("0.9"))],
        {},
        Status.PASSED,
        ["is 0.9"],
        0.9,
        ">= 0.85",
        id="numeric-string",
    ),
    pytest.param(
        {**AUC, "evidence": "eval/metrics.csv", "metric": "auc"},
        [
            item(
                "eval/metrics.csv",
                [{"metric": "f1", "value": "0.7"}, {"metric": "auc", "value": "0.91"}],
            )
        ],
        {},
        Status.PASSED,
        ["auc is 0.91 in eval/metrics.csv"],
        0.91,
        ">= 0.85",
        id="csv-metric-value-table",
    ),
    pytest.param(
        {**AUC, "evidence": "eval/metrics.csv", "metric": "holdout.auc"},
        [item("eval/metrics.csv", [{"Name": "holdout.auc", "score": " 0.86 "}])],
        {},
        Status.PASSED,
        ["is 0.86"],
        0.86,
        ">= 0.85",
        id="csv-two-column-name-table",
    ),
    pytest.param(
        {**AUC, "evidence": "eval/metrics.csv", "metric": "auc"},
        [item("eval/metrics.csv", [{"auc": "0.87", "f1": "0.7"}])],
        {},
        Status.PASSED,
        ["is 0.87"],
        0.87,
        ">= 0.85",
        id="csv-single-row-column",
    ),
    pytest.param(
        {**AUC, "evidence": "eval/metrics.csv", "metric": "1.auc"},
        [item("eval/metrics.csv", [{"auc": "0.8"}, {"auc": "0.95"}])],
        {},
        Status.PASSED,
        ["is 0.95"],
        0.95,
        ">= 0.85",
        id="csv-row-index",
    ),
    pytest.param(
        {k: v for k, v in AUC.items() if k != "evidence"},
        [item("old.json", {"holdout": {"auc": 0.86}}), item("new.json", {"other": 1})],
        {},
        Status.PASSED,
        ["holdout.auc is 0.86 in old.json"],
        0.86,
        ">= 0.85",
        id="unnamed-newest-file-holding-the-metric",
    ),
    pytest.param(
        AUC,
        [item("metrics.json", doc(0.9))],
        {},
        Status.PASSED,
        ["in metrics.json"],
        0.9,
        ">= 0.85",
        id="attached-under-its-file-name",
    ),
    # --- pending ----------------------------------------------------------------------------
    pytest.param(
        AUC,
        [],
        {},
        Status.PENDING,
        [
            "eval/metrics.json is not attached yet: attach it to this criterion",
        ],
        None,
        ">= 0.85",
        id="named-file-missing",
    ),
    pytest.param(
        AUC,
        [item("other.json", doc(0.9))],
        {},
        Status.PENDING,
        ["not attached yet"],
        None,
        ">= 0.85",
        id="only-other-files-attached",
    ),
    pytest.param(
        {k: v for k, v in AUC.items() if k != "evidence"},
        [],
        {},
        Status.PENDING,
        ["no metrics file attached", "or attach one to this criterion"],
        None,
        ">= 0.85",
        id="nothing-named-nothing-attached",
    ),
    # --- errors -----------------------------------------------------------------------------
    pytest.param(
        AUC,
        [item(FILE, problem="line 3: expected ','")],
        {},
        Status.ERROR,
        ["eval/metrics.json could not be read: line 3: expected ','", "attach it again"],
        None,
        ">= 0.85",
        id="unreadable",
    ),
    pytest.param(
        AUC,
        [item(FILE, {"holdout": {"accuracy": 0.9, "f1": 0.7}})],
        {},
        Status.ERROR,
        [
            'eval/metrics.json has no "holdout.auc"',
            '"holdout" has no key "auc"',
            "keys there: accuracy, f1",
            "correct the metric path",
        ],
        None,
        ">= 0.85",
        id="missing-key",
    ),
    pytest.param(
        AUC,
        [item(FILE, {"validation": {}})],
        {},
        Status.ERROR,
        ['the top level has no key "holdout" (keys there: validation)'],
        None,
        ">= 0.85",
        id="missing-top-level-key",
    ),
    pytest.param(
        {**AUC, "metric": "runs.5.auc"},
        [item(FILE, {"runs": [{"auc": 0.8}]})],
        {},
        Status.ERROR,
        ['"runs" is a list; "5" is not an index of it (0 to 0)'],
        None,
        ">= 0.85",
        id="index-out-of-range",
    ),
    pytest.param(
        {**AUC, "metric": "holdout.auc.mean"},
        [item(FILE, doc(0.9))],
        {},
        Status.ERROR,
        ['"holdout.auc" is a number, not a mapping, so it has no "mean"'],
        None,
        ">= 0.85",
        id="path-through-a-scalar",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc("n/a"))],
        {},
        Status.ERROR,
        ["\"holdout.auc\" in eval/metrics.json is 'n/a', not a number"],
        None,
        ">= 0.85",
        id="non-numeric",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc(True))],
        {},
        Status.ERROR,
        ["is True, not a number"],
        None,
        ">= 0.85",
        id="boolean-is-not-a-number",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc("nan"))],
        {},
        Status.ERROR,
        ["not a number"],
        None,
        ">= 0.85",
        id="nan-is-not-a-number",
    ),
    pytest.param(
        AUC,
        [item(FILE, doc({"mean": 0.9}))],
        {},
        Status.ERROR,
        ["is a mapping, not a number"],
        None,
        ">= 0.85",
        id="mapping-is-not-a-number",
    ),
    pytest.param(
        AUC,
        [item(FILE, TestReport(tests=1, failures=0, errors=0, skipped=0))],
        {},
        Status.ERROR,
        ["not a metrics document (JSON, YAML or CSV) but TestReport"],
        None,
        ">= 0.85",
        id="wrong-kind-of-content",
    ),
    pytest.param(
        {**AUC, "evidence": "m.csv", "metric": "auc"},
        [item("m.csv", [{"auc": "0.8"}, {"auc": "0.95"}])],
        {},
        Status.ERROR,
        ['column "auc" has 2 rows; name the row too (e.g. "0.auc")'],
        None,
        ">= 0.85",
        id="csv-column-of-many-rows",
    ),
    pytest.param(
        {**AUC, "evidence": "m.csv", "metric": "recall"},
        [item("m.csv", [{"metric": "auc", "value": "0.9"}])],
        {},
        Status.ERROR,
        ['its metric column has no "recall" (it lists: auc)'],
        None,
        ">= 0.85",
        id="csv-name-table-without-the-metric",
    ),
    pytest.param(
        {**AUC, "evidence": "m.csv", "metric": "recall"},
        [item("m.csv", [{"auc": "0.9", "f1": "0.5"}])],
        {},
        Status.ERROR,
        ['the table has no column "recall" (columns: auc, f1)'],
        None,
        ">= 0.85",
        id="csv-without-the-column",
    ),
    pytest.param(
        {k: v for k, v in AUC.items() if k != "evidence"},
        [item("a.json", {"x": 1}), item("b.json", problem="not UTF-8")],
        {},
        Status.ERROR,
        [
            'no attached file holds "holdout.auc"',
            "b.json could not be read: not UTF-8",
            'a.json has no "holdout.auc"',
        ],
        None,
        ">= 0.85",
        id="no-unnamed-file-holds-the-metric",
    ),
    # --- baseline: released -----------------------------------------------------------------
    pytest.param(
        REGRESSION,
        [item(FILE, doc(0.84))],
        {"released": None},
        Status.PASSED,
        ["there is no earlier release in production to compare holdout.auc against"],
        {"value": 0.84, "released": None, "drop": None},
        {"max_drop": 0.01, "baseline": "released"},
        id="first-release-has-no-baseline",
    ),
    pytest.param(
        REGRESSION,
        [item(FILE, doc(0.84))],
        {"released": released(**{"holdout.auc": 0.86})},
        Status.FAILED,
        [
            "holdout.auc dropped by 0.02 from 0.86 (version 2.3.0 in production) to 0.84",
            "allows a drop of at most 0.01",
        ],
        {"value": 0.84, "released": 0.86, "drop": 0.02},
        {"max_drop": 0.01, "baseline": "released"},
        id="regression-too-large",
    ),
    pytest.param(
        REGRESSION,
        [item(FILE, doc(0.85))],
        {"released": released(**{"holdout.auc": 0.86})},
        Status.PASSED,
        ["dropped by 0.01", "within the allowed drop of 0.01"],
        {"value": 0.85, "released": 0.86, "drop": 0.01},
        {"max_drop": 0.01, "baseline": "released"},
        id="regression-exactly-at-the-bound",
    ),
    pytest.param(
        REGRESSION,
        [item(FILE, doc(0.9))],
        {"released": released(**{"holdout.auc": 0.86})},
        Status.PASSED,
        ["holdout.auc improved by 0.04 from 0.86 (version 2.3.0 in production) to 0.9"],
        {"value": 0.9, "released": 0.86, "drop": -0.04},
        {"max_drop": 0.01, "baseline": "released"},
        id="improvement",
    ),
    pytest.param(
        {**REGRESSION, "metric": "p95_ms", "higher_is_better": False, "max_drop": 10},
        [item(FILE, {"p95_ms": 120})],
        {"released": released(p95_ms=100)},
        Status.FAILED,
        ["p95_ms rose by 20 from 100", "the plan allows a rise of at most 10"],
        {"value": 120, "released": 100, "drop": 20},
        {"max_drop": 10.0, "baseline": "released"},
        id="lower-is-better-regression",
    ),
    pytest.param(
        {**REGRESSION, "metric": "jailbreak", "higher_is_better": False, "max_drop": 0.01},
        [item(FILE, {"jailbreak": 0.019})],
        {"released": released(jailbreak=0.012)},
        Status.PASSED,
        [
            "jailbreak rose by 0.007 from 0.012 (version 2.3.0 in production) to 0.019, "
            "within the allowed rise of 0.01"
        ],
        {"value": 0.019, "released": 0.012, "drop": 0.007},
        {"max_drop": 0.01, "baseline": "released"},
        id="lower-is-better-rise-within-bound",
    ),
    pytest.param(
        {**REGRESSION, "metric": "jailbreak", "higher_is_better": False, "max_drop": 0.01},
        [item(FILE, {"jailbreak": 0.01})],
        {"released": released(jailbreak=0.012)},
        Status.PASSED,
        ["jailbreak improved by 0.002 from 0.012 (version 2.3.0 in production) to 0.01"],
        {"value": 0.01, "released": 0.012, "drop": -0.002},
        {"max_drop": 0.01, "baseline": "released"},
        id="lower-is-better-improvement",
    ),
    pytest.param(
        REGRESSION,
        [item(FILE, doc(0.86))],
        {"released": released(**{"holdout.auc": 0.86})},
        Status.PASSED,
        ["holdout.auc is unchanged at 0.86 (version 2.3.0 in production had 0.86)"],
        {"value": 0.86, "released": 0.86, "drop": 0.0},
        {"max_drop": 0.01, "baseline": "released"},
        id="unchanged",
    ),
    pytest.param(
        REGRESSION,
        [item(FILE, doc(0.9))],
        {"released": released(accuracy=0.8)},
        Status.PENDING,
        [
            "the candidate released to production (version 2.3.0) recorded no value for "
            "holdout.auc, so no comparison is possible"
        ],
        {"value": 0.9, "released": None, "drop": None},
        {"max_drop": 0.01, "baseline": "released"},
        id="released-candidate-lacks-the-metric",
    ),
    pytest.param(
        {**REGRESSION, "threshold": 0.85},
        [item(FILE, doc(0.84))],
        {"released": released(**{"holdout.auc": 0.845})},
        Status.FAILED,
        ["requires >= 0.85"],
        {"value": 0.84, "released": 0.845, "drop": 0.005},
        {"max_drop": 0.01, "baseline": "released", "threshold": ">= 0.85"},
        id="both-threshold-fails-baseline-holds",
    ),
    pytest.param(
        {**REGRESSION, "threshold": 0.8},
        [item(FILE, doc(0.82))],
        {"released": released(**{"holdout.auc": 0.86})},
        Status.FAILED,
        ["dropped by 0.04"],
        {"value": 0.82, "released": 0.86, "drop": 0.04},
        {"max_drop": 0.01, "baseline": "released", "threshold": ">= 0.8"},
        id="both-threshold-holds-baseline-fails",
    ),
    pytest.param(
        {**REGRESSION, "threshold": 0.85},
        [item(FILE, doc(0.8))],
        {"released": released()},
        Status.FAILED,
        ["requires >= 0.85", "recorded no value"],
        {"value": 0.8, "released": None, "drop": None},
        {"max_drop": 0.01, "baseline": "released", "threshold": ">= 0.85"},
        id="failure-outranks-pending",
    ),
]


@pytest.mark.parametrize(
    ("criterion", "items", "context", "status", "fragments", "observed", "expected"), CASES
)
def test_metric(
    criterion: dict[str, Any],
    items: list[Any],
    context: dict[str, Any],
    status: Status,
    fragments: list[str],
    observed: Any,
    expected: Any,
) -> None:
    """Each case yields its status, a reason with these fragments, and these numbers."""
    result = evaluate(criterion, items, **context)
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    assert result.expected == expected


def test_metric_cites_the_file_it_read() -> None:
    """The result cites the digest of the metrics file the value came from, and only it."""
    used = item(FILE, doc(0.9))
    result = evaluate(AUC, [item("unrelated.json", {}), used])
    assert result.evidence == (used.digest,)


def test_metric_cites_nothing_while_pending() -> None:
    """A pending metric cites no evidence: nothing was read."""
    assert evaluate(AUC, [item("unrelated.json", {})]).evidence == ()


def test_metric_error_cites_the_unreadable_file() -> None:
    """An unreadable metrics file is cited so the user can find the exact upload."""
    bad = item(FILE, problem="truncated")
    assert evaluate(AUC, [bad]).evidence == (bad.digest,)
