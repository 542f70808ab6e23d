"""A generated plan with many criteria and evidence files, for the gate benchmark."""

from __future__ import annotations

import json
from pathlib import Path

JUNIT = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="s" tests="3" '
    'failures="0" errors="0" skipped="0">'
    '<testcase classname="c" name="a"/><testcase classname="c" name="b"/>'
    '<testcase classname="c" name="c{i}"/></testsuite></testsuites>'
)


def write_large_plan(root: Path, criteria: int = 500, files: int = 2000) -> Path:
    """Metric, tests and evidence criteria in turn, with `files` evidence files among them
    (one per metric criterion, the rest spread evenly)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "ev").mkdir(exist_ok=True)
    kinds = [("metric", "tests", "evidence", "tests", "evidence")[i % 5] for i in range(criteria)]
    others = [i for i, k in enumerate(kinds) if k != "metric"]
    counts = [1 if k == "metric" else 0 for k in kinds]
    for n in range(files - sum(counts)):
        counts[others[n % len(others)]] += 1
    lines = [
        "apiVersion: clearance/v1",
        "kind: DeploymentPlan",
        "system: {id: bench, name: Bench, owner: owner@example.com}",
        "release: {version: '1.0', source: dev, target: prod}",
        "components: [{name: m, kind: model, version: '1', digest: 'sha256:" + "0" * 64 + "'}]",
        "environments: {dev: {}, prod: {}}",
        "criteria:",
    ]
    for i, kind in enumerate(kinds):
        names = [f"ev/c{i}-{j}" for j in range(counts[i])]
        if kind == "metric":
            path = f"{names[0]}.json"
            (root / path).write_text(json.dumps({"m": {"auc": 0.9, "i": i}}))
            lines.append(
                f"  - {{id: c{i}, kind: metric, evidence: {path}, metric: m.auc, threshold: 0.8}}"
            )
        elif kind == "tests":
            paths = [f"{n}.xml" for n in names]
            for path in paths:
                (root / path).write_text(JUNIT.format(i=path))
            lines.append(
                f"  - {{id: c{i}, kind: tests, evidence: {json.dumps(paths)}, min_tests: 3}}"
            )
        else:
            paths = [f"{n}.md" for n in names]
            for path in paths:
                (root / path).write_text(f"# {path}\nreviewed\n")
            lines.append(f"  - {{id: c{i}, kind: evidence, documents: {json.dumps(paths)}}}")
    (root / "plan.yaml").write_text("\n".join(lines) + "\n")
    return root / "plan.yaml"
