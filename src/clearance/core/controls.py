"""The control matrix: each ISO/IEC 42001 deployment requirement, and what in this release's
recorded results covers it. Coverage comes from results, never from a template or a criterion
merely existing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: where a criterion with no `controls:` of its own is counted, by kind
DEFAULT_CONTROLS: Mapping[str, tuple[str, ...]] = {
    "metric": ("B.6.2.5-performance",),
    "tests": ("B.6.2.5-verification-validation",),
    "environment": ("B.6.2.5-environments",),
    "approval": ("B.6.2.5-approvals",),
    "stakeholders": ("B.6.2.5-interested-parties",),
    "rollback": ("rollback-versioning",),
    "change": ("change-management",),
    "risk": ("risk-mitigations",),
    # scanner findings verify the build and bear on its security (and privacy) impacts
    "findings": ("B.6.2.5-verification-validation", "risk-mitigations"),
}
CLEARED = ("passed", "waived")


@dataclass(frozen=True)
class Requirement:
    id: str
    control: str
    control_title: str
    text: str


@dataclass(frozen=True)
class Coverage:
    requirement: Requirement
    covered: bool
    criteria: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    note: str = ""

    def as_row(self) -> dict[str, str]:
        return {
            "requirement": self.requirement.id,
            "control": self.requirement.control,
            "text": self.requirement.text,
            "status": "covered" if self.covered else "not covered",
            "criteria": " ".join(self.criteria),
            "evidence": " ".join(self.evidence),
            "note": self.note,
        }


def requirements(catalogue: Mapping[str, Any]) -> list[Requirement]:
    """The requirements of a controls catalogue (the package's iso42001-deployment.yaml)."""
    return [
        Requirement(r["id"], c["id"], c.get("title", ""), r["text"])
        for c in catalogue.get("controls", [])
        for r in c.get("requirements", [])
    ]


@dataclass(frozen=True)
class ReleaseRecord:
    """What the matrix looks at: the latest decision's results and what was recorded."""

    revision: str
    owner: str
    outcome: str | None
    decision_id: int | None
    results: Sequence[Mapping[str, Any]]
    controls: Mapping[str, Sequence[str]]
    components: Mapping[str, str]
    approvals: Sequence[str] = field(default_factory=tuple)


def control_matrix(reqs: Sequence[Requirement], rec: ReleaseRecord) -> list[Coverage]:
    """Coverage of every requirement by this release's record."""
    return [_cover(req, rec) for req in reqs]


def _cover(req: Requirement, rec: ReleaseRecord) -> Coverage:
    if req.id == "A.6.2.5-plan":
        return Coverage(req, True, (), (rec.revision,), f"plan revision owned by {rec.owner}")
    if req.id == "A.6.2.5-requirements-met":
        if rec.outcome == "GO":
            return Coverage(req, True, (), (), f"decision #{rec.decision_id}: GO")
        return Coverage(req, False, note=f"latest decision: {rec.outcome or 'none'}")
    if req.id == "B.6.2.5-components":
        pins = tuple(f"{name}={digest}" for name, digest in sorted(rec.components.items()))
        return Coverage(req, bool(pins), (), pins, f"{len(pins)} component(s) pinned by digest")
    mapped = [
        r
        for r in rec.results
        if req.id in (rec.controls.get(r["id"]) or DEFAULT_CONTROLS.get(r["kind"], ()))
    ]
    cleared = [r for r in mapped if r["status"] in CLEARED]
    if not cleared:
        if not mapped:
            return Coverage(req, False, note="no criterion of this release maps to it")
        statuses = ", ".join(f"{r['id']} {r['status']}" for r in mapped)
        return Coverage(req, False, tuple(r["id"] for r in mapped), note=statuses)
    evidence: list[str] = []
    for r in cleared:
        evidence += r.get("evidence") or []
        if r["kind"] == "approval":
            evidence += rec.approvals
        if r["kind"] == "stakeholders":
            evidence.append(rec.revision)
    notes = ", ".join(f"{r['id']} {r['status']}" for r in cleared)
    return Coverage(
        req, True, tuple(r["id"] for r in cleared), tuple(dict.fromkeys(evidence)), notes
    )
