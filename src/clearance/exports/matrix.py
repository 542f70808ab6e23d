"""The pack's control matrix, computed from the pack's own records only, so that a verifier
can recompute it offline and refuse a matrix that claims more than the records show."""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib import resources
from typing import Any

from clearance.core.controls import (
    Coverage,
    ReleaseRecord,
    Requirement,
    control_matrix,
    requirements,
)

MATRIX = "control-matrix.csv"
CATALOGUE = "data/controls/iso42001-deployment.yaml"
COLUMNS = ("requirement", "control", "text", "status", "criteria", "evidence", "note")


@cache
def catalogue_requirements() -> tuple[Requirement, ...]:
    import yaml

    text = (resources.files("clearance") / CATALOGUE).read_text(encoding="utf-8")
    return tuple(requirements(yaml.safe_load(text)))


def matrix_from_pack(files: dict[str, bytes]) -> list[Coverage]:
    """Coverage from candidate.json, its plan revision, decisions.json and approvals.json."""
    candidate = json.loads(files["candidate.json"])
    revision = candidate["revision"]
    document = json.loads(files[f"plan/revisions/{revision.removeprefix('sha256:')}.json"])
    decisions = json.loads(files["decisions.json"])
    latest: dict[str, Any] = decisions[-1] if decisions else {}
    approvals = json.loads(files["approvals.json"])
    owner = (document.get("release") or {}).get("owner") or document["system"]["owner"]
    record = ReleaseRecord(
        revision=revision,
        owner=owner,
        outcome=latest.get("outcome"),
        decision_id=latest.get("id"),
        results=latest.get("criteria", []),
        controls={c["id"]: c.get("controls") or [] for c in document.get("criteria", [])},
        components={c["name"]: c["digest"] for c in candidate["components"]},
        approvals=tuple(
            f"approval:{a['person']}:{a['role']}"
            for a in approvals
            if a.get("current") and a.get("decision") == "approve"
        ),
    )
    return control_matrix(catalogue_requirements(), record)


def matrix_csv(coverage: list[Coverage]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in coverage:
        writer.writerow(c.as_row())
    return out.getvalue().encode()
