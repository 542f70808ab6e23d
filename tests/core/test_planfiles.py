"""Every file a plan names is listed with the location naming it, and each location
resolves to where the path is written in the plan's text."""

from __future__ import annotations

from typing import Any, Literal

import pytest
import yaml
from core_testkit import make_plan
from hypothesis import given
from hypothesis import strategies as st

from clearance.core.criteria import CriterionBase, NamedFile
from clearance.core.loader import parse_plan
from clearance.core.plan import Plan
from clearance.core.planfiles import PlanFile, plan_files
from clearance.core.policy import yaml_positions


def every_path_document() -> dict[str, Any]:
    """A plan using every field that names a file, each with a distinct path."""
    return {
        "apiVersion": "clearance/v1",
        "kind": "DeploymentPlan",
        "system": {"id": "credit-scoring", "name": "Credit scoring", "owner": "alice@example.com"},
        "release": {
            "version": "2.4.0",
            "source": "staging",
            "target": "production",
            "change": {"system": "jira", "id": "OPS-1", "backout_plan": "see docs/rollback.md"},
        },
        "components": [
            {"name": "scorer", "kind": "model", "version": "2.4.0", "artifact": "models/a.bin"},
            {"name": "api", "kind": "software", "version": "1.0", "digest": "sha256:" + "ab" * 32},
        ],
        "environments": {
            "staging": {"file": "env/staging.json"},
            "production": {"file": "env/production.json"},
            "dr": {"manifest": {"region": "eu"}},
        },
        "rollback": {"to": "previous", "procedure": "docs/rollback.md", "rehearsal": "docs/r.json"},
        "criteria": [
            {
                "id": "auc",
                "kind": "metric",
                "evidence": "eval/m.json",
                "metric": "a",
                "threshold": 1,
            },
            {"id": "tests", "kind": "tests", "evidence": ["reports/u.xml", "reports/i.xml"]},
            {"id": "uat", "kind": "evidence", "documents": ["docs/uat.md", "docs/sig.pdf"]},
            {"id": "env", "kind": "environment"},
            {"id": "risks", "kind": "risk", "register": "risk/register.yaml"},
            {"id": "ticket", "kind": "change", "evidence": "change/ticket.json"},
            {"id": "rollback", "kind": "rollback"},
            {"id": "one-report", "kind": "tests", "evidence": "reports/one.xml"},
            {"id": "parties", "kind": "stakeholders"},
            {"id": "signoff", "kind": "approval", "roles": [{"role": "model-risk"}]},
        ],
    }


TEXT = yaml.safe_dump(every_path_document(), sort_keys=False)
EXPECTED = [
    PlanFile(("components", 0, "artifact"), "models/a.bin"),
    PlanFile(("environments", "staging", "file"), "env/staging.json"),
    PlanFile(("environments", "production", "file"), "env/production.json"),
    PlanFile(("rollback", "procedure"), "docs/rollback.md"),
    PlanFile(("rollback", "rehearsal"), "docs/r.json"),
    PlanFile(("criteria", 0, "evidence"), "eval/m.json"),
    PlanFile(("criteria", 1, "evidence", 0), "reports/u.xml"),
    PlanFile(("criteria", 1, "evidence", 1), "reports/i.xml"),
    PlanFile(("criteria", 2, "documents", 0), "docs/uat.md"),
    PlanFile(("criteria", 2, "documents", 1), "docs/sig.pdf"),
    PlanFile(("criteria", 4, "register"), "risk/register.yaml"),
    PlanFile(("criteria", 5, "evidence"), "change/ticket.json"),
    PlanFile(("criteria", 7, "evidence"), "reports/one.xml"),
]


def test_every_path_bearing_field_is_listed_in_plan_order() -> None:
    """Artifacts, manifests, rollback documents and each criterion's files, nothing else."""
    assert plan_files(parse_plan(TEXT, "plan.yaml")) == EXPECTED


def test_each_location_resolves_to_where_the_path_is_written() -> None:
    """`yaml_positions` maps every listed location to the line and column of its path."""
    position = yaml_positions(TEXT, "plan.yaml")
    lines = TEXT.splitlines()
    for named in plan_files(parse_plan(TEXT, "plan.yaml")):
        found = position(named.location)
        assert found is not None, named
        line, column = found
        assert lines[line - 1][column - 1 :].startswith(named.path), (named, lines[line - 1])


def test_every_file_a_criterion_ingests_is_listed() -> None:
    """What `named_files` hands the evaluators is a subset of what the check walks."""
    plan = parse_plan(TEXT, "plan.yaml")
    listed = {f.path for f in plan_files(plan)}
    ingested = {f.path for c in plan.criteria for f in c.named_files(plan)}
    assert ingested and ingested <= listed


def test_files_are_listed_without_any_criterion_naming_them() -> None:
    """Artifacts, manifests and rollback documents are checked even with no criteria."""
    plan = parse_plan(TEXT, "plan.yaml").model_copy(update={"criteria": []})
    assert plan_files(plan) == EXPECTED[:5]


def test_a_plan_naming_no_file_lists_nothing() -> None:
    assert plan_files(make_plan()) == []


class _Unlisted(CriterionBase):
    """A kind whose file lives in no field of its own."""

    kind: Literal["unlisted"] = "unlisted"

    def named_files(self, plan: Plan) -> list[NamedFile]:
        return [NamedFile(path="hidden/elsewhere.json", format="raw")]


def test_a_named_file_in_no_field_is_listed_at_its_criterion() -> None:
    """A criterion kind added later cannot name a file that escapes the check."""
    plan = make_plan().model_copy(update={"criteria": [_Unlisted(id="x", kind="unlisted")]})
    assert plan_files(plan) == [PlanFile(("criteria", 0), "hidden/elsewhere.json")]


@pytest.mark.parametrize(
    ("location", "field"),
    [
        (("criteria", 3, "evidence", 1), "criteria[3].evidence[1]"),
        (("environments", "staging", "file"), "environments.staging.file"),
        (("rollback", "procedure"), "rollback.procedure"),
        (("criteria", 0), "criteria[0]"),
    ],
)
def test_field_reads_as_the_plan_is_written(location: tuple[str | int, ...], field: str) -> None:
    assert PlanFile(location, "x").field == field


@given(
    st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1),
        min_size=1,
        max_size=5,
    )
)
def test_every_document_is_listed_at_its_index(documents: list[str]) -> None:
    """Whatever the paths say, each document is listed once at its own index."""
    plan = make_plan([{"id": "uat", "kind": "evidence", "documents": documents}])
    assert plan_files(plan) == [
        PlanFile(("criteria", 0, "documents", j), path) for j, path in enumerate(documents)
    ]
