"""The pack's control matrix from the pack's own records: the packaged catalogue and default
mappings, waived and advisory results, and the CSV the verifier recomputes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from clearance.core.criteria import KINDS
from clearance.exports.matrix import (
    CATALOGUE,
    KIND_DEFAULTS,
    matrix_csv,
    matrix_from_pack,
    packaged_catalogue,
)

PACKAGE = Path(__file__).parents[2] / "src" / "clearance"
SHARED = Path(__file__).parents[3] / "shared" / "controls" / "iso42001-deployment.yaml"
REVISION = "sha256:" + "12" * 32


def test_every_kind_has_a_default_mapping_written_down() -> None:
    """Every criterion kind is listed (evidence with none, on purpose), and every default
    names a requirement of the catalogue (the Catalogue refuses any other)."""
    defaults = yaml.safe_load((PACKAGE / KIND_DEFAULTS).read_text(encoding="utf-8"))["kinds"]
    assert sorted(defaults) == sorted(KINDS)
    catalogue = packaged_catalogue()
    assert catalogue.defaults["evidence"] == ()
    assert catalogue.defaults["tests"] == ("B.6.2.5-verification-validation",)
    assert len(catalogue.requirements) == 12


@pytest.mark.skipif(not SHARED.exists(), reason="no shared/ folder beside the repository")
def test_the_packaged_catalogue_is_the_shared_one() -> None:
    assert (PACKAGE / CATALOGUE).read_bytes() == SHARED.read_bytes()


def pack_files(results: list[dict[str, Any]], controls: dict[str, list[str]]) -> dict[str, bytes]:
    document = {
        "system": {"id": "s", "owner": "alice"},
        "release": {"version": "1"},
        "criteria": [
            {"id": r["id"], "kind": r["kind"], "controls": controls.get(r["id"], [])}
            for r in results
        ],
    }
    return {
        "candidate.json": json.dumps(
            {"revision": REVISION, "components": [{"name": "m", "digest": "sha256:m"}]}
        ).encode(),
        f"plan/revisions/{REVISION.removeprefix('sha256:')}.json": json.dumps(document).encode(),
        "decisions.json": json.dumps([{"id": 3, "outcome": "GO", "criteria": results}]).encode(),
        "approvals.json": b"[]",
    }


def result(id: str, kind: str, status: str, advisory: bool = False) -> dict[str, Any]:
    return {"id": id, "kind": kind, "status": status, "evidence": [], "advisory": advisory}


def rows(files: dict[str, bytes]) -> dict[str, dict[str, str]]:
    reader = csv.DictReader(io.StringIO(matrix_csv(matrix_from_pack(files)).decode()))
    return {row["requirement"]: row for row in reader}


def test_the_pack_matrix_says_waived_and_leaves_advisory_results_out() -> None:
    found = rows(
        pack_files(
            [
                result("tests", "tests", "waived"),
                result("auc", "metric", "passed"),
                result("drift", "metric", "passed", advisory=True),
                result("uat", "evidence", "passed", advisory=True),
            ],
            {"uat": ["B.6.2.5-user-testing"]},
        )
    )
    assert found["B.6.2.5-verification-validation"]["status"] == "waived"
    assert found["B.6.2.5-performance"]["status"] == "covered"
    assert found["B.6.2.5-performance"]["criteria"] == "auc"
    assert "advisory, not counted: drift passed" in found["B.6.2.5-performance"]["note"]
    assert found["B.6.2.5-user-testing"]["status"] == "not covered"
    assert {r["status"] for r in found.values()} == {"covered", "waived", "not covered"}


def test_a_plan_mapping_replaces_the_kind_default_in_the_pack() -> None:
    found = rows(
        pack_files([result("uat", "evidence", "passed")], {"uat": ["B.6.2.5-user-testing"]})
    )
    assert found["B.6.2.5-user-testing"]["status"] == "covered"
    found = rows(pack_files([result("auc", "metric", "passed")], {"auc": ["risk-mitigations"]}))
    assert found["B.6.2.5-performance"]["status"] == "not covered"
    assert found["risk-mitigations"]["status"] == "covered"
