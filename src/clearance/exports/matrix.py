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
    Catalogue,
    Coverage,
    ReleaseRecord,
    Requirement,
    control_matrix,
    kind_defaults,
    requirements,
)

MATRIX = "control-matrix.csv"
CATALOGUE = "data/controls/iso42001-deployment.yaml"
KIND_DEFAULTS = "data/controls/kind-defaults.yaml"
COLUMNS = ("requirement", "control", "text", "status", "criteria", "evidence", "note")


@cache
def packaged_catalogue() -> Catalogue:
    """The package's controls catalogue with its default mappings per criterion kind."""
    import yaml

    def read(name: str) -> Any:
        return yaml.safe_load((resources.files("clearance") / name).read_text(encoding="utf-8"))

    return Catalogue(tuple(requirements(read(CATALOGUE))), kind_defaults(read(KIND_DEFAULTS)))


def catalogue_requirements() -> tuple[Requirement, ...]:
    return packaged_catalogue().requirements


def matrix_from_pack(files: dict[str, bytes]) -> list[Coverage]:
    """Coverage from candidate.json, its plan revision, decisions.json and approvals.json;
    the criteria's results (with their advisory flags) are the latest decision's."""
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
    return control_matrix(packaged_catalogue(), record)


def matrix_csv(coverage: list[Coverage]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in coverage:
        writer.writerow(c.as_row())
    return out.getvalue().encode()
