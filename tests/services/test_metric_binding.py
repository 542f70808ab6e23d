"""Metrics tied to the model: the issue's case end to end. 1.0.0 is released with its metrics
file; the 1.1.0 candidate, with a rebuilt model but the 1.0.0 metrics file (whose own model
field says 1.0.0), must not pass `no-regression`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clearance.blobs import file_digest
from clearance.services.workspace import Workspace
from tests.builders import ADMIN, check, load, open_workspace, release


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    yield workspace
    workspace.close()


def write(root: Path, version: str, weights: bytes, metrics: dict[str, Any]) -> Path:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models/assistant.bin").write_bytes(weights)
    (root / "eval").mkdir(exist_ok=True)
    (root / "eval/metrics.json").write_text(json.dumps(metrics))
    doc = {
        "apiVersion": "clearance/v1",
        "kind": "DeploymentPlan",
        "system": {"id": "helpdesk", "name": "Helpdesk assistant", "owner": "alice@example.com"},
        "release": {"version": version, "source": "staging", "target": "production"},
        "components": [
            {
                "name": "assistant",
                "kind": "model",
                "version": version,
                "artifact": "models/assistant.bin",
            }
        ],
        "environments": {"staging": {}, "production": {}},
        "criteria": [
            {
                "id": "no-regression",
                "kind": "metric",
                "evidence": "eval/metrics.json",
                "metric": "refusal_accuracy",
                "baseline": "released",
                "max_drop": 0.01,
                "for": "assistant",
            }
        ],
    }
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump(doc, sort_keys=False))
    return plan


def test_the_new_candidate_does_not_pass_with_the_old_metrics_file(
    ws: Workspace, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    old_weights, new_weights = b"weights 1.0.0\n" * 50, b"weights 1.1.0\n" * 50
    (root / "models").mkdir(parents=True)
    (root / "models/assistant.bin").write_bytes(old_weights)
    old_digest = file_digest(root / "models/assistant.bin")
    old_metrics = {"model": "1.0.0", "model_digest": old_digest, "refusal_accuracy": 0.94}
    first = load(ws, write(root, "1.0.0", old_weights, old_metrics))
    assert check(ws, first).evaluation.decision == "GO"
    release(ws, first, ADMIN)

    second = load(ws, write(root, "1.1.0", new_weights, old_metrics))  # metrics not rerun
    new_digest = file_digest(root / "models/assistant.bin")
    result = check(ws, second).evaluation.results[0]
    assert result.status.value == "failed"
    assert old_digest in result.reason and new_digest in result.reason
    assert "refusal_accuracy in eval/metrics.json was measured on model" in result.reason

    rerun = {"model": "1.1.0", "model_digest": new_digest, "refusal_accuracy": 0.945}
    (root / "eval/metrics.json").write_text(json.dumps(rerun))
    assert check(ws, load(ws, root / "plan.yaml")).evaluation.decision == "GO"
