"""The control matrix: each ISO/IEC 42001 deployment requirement, and what in this release's
recorded results covers it. Coverage comes from results, never from a template or a criterion
merely existing: a requirement is covered when the required criteria that count for it all
passed, waived when some were waived instead, and advisory criteria never count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

CoverageStatus = Literal["covered", "waived", "not covered"]
CLEARED = ("passed", "waived")
#: requirements met by the release's records themselves (its plan revision, decision and
#: component digests), never by a criterion mapped to them
FROM_RECORDS = frozenset({"A.6.2.5-plan", "A.6.2.5-requirements-met", "B.6.2.5-components"})


@dataclass(frozen=True)
class Requirement:
    id: str
    control: str
    control_title: str
    text: str


@dataclass(frozen=True)
class Catalogue:
    """The requirements of a controls catalogue, and where each criterion kind counts when a
    criterion names no `controls:` of its own."""

    requirements: tuple[Requirement, ...]
    defaults: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {r.id for r in self.requirements}
        for kind, ids in self.defaults.items():
            unknown = sorted(set(ids) - known)
            if unknown:
                raise ValueError(
                    f"the default controls of kind {kind!r} name requirements the catalogue "
                    f"lacks: {', '.join(unknown)}"
                )

    @property
    def mappable(self) -> tuple[str, ...]:
        """Requirement ids a criterion can count for, in catalogue order."""
        return tuple(r.id for r in self.requirements if r.id not in FROM_RECORDS)

    def counts_for(self, kind: str, controls: Sequence[str] | None) -> tuple[str, ...]:
        """The requirements a criterion counts for: those its own `controls:` name when it
        names any (they replace its kind's default), else its kind's default."""
        named = tuple(controls or ()) or self.defaults.get(kind, ())
        mappable = set(self.mappable)
        return tuple(dict.fromkeys(c for c in named if c in mappable))


@dataclass(frozen=True)
class Coverage:
    requirement: Requirement
    status: CoverageStatus
    criteria: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    note: str = ""

    @property
    def covered(self) -> bool:
        return self.status == "covered"

    def as_row(self) -> dict[str, str]:
        return {
            "requirement": self.requirement.id,
            "control": self.requirement.control,
            "text": self.requirement.text,
            "status": self.status,
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


def kind_defaults(document: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Default mappings per criterion kind (the package's kind-defaults.yaml)."""
    return {str(kind): tuple(ids or ()) for kind, ids in (document.get("kinds") or {}).items()}


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


def control_matrix(catalogue: Catalogue, rec: ReleaseRecord) -> list[Coverage]:
    """Coverage of every requirement of the catalogue by this release's record."""
    return [_cover(req, catalogue, rec) for req in catalogue.requirements]


def _cover(req: Requirement, catalogue: Catalogue, rec: ReleaseRecord) -> Coverage:
    if req.id == "A.6.2.5-plan":
        return Coverage(req, "covered", (), (rec.revision,), f"plan revision owned by {rec.owner}")
    if req.id == "A.6.2.5-requirements-met":
        if rec.outcome == "GO":
            return Coverage(req, "covered", (), (), f"decision #{rec.decision_id}: GO")
        return Coverage(req, "not covered", note=f"latest decision: {rec.outcome or 'none'}")
    if req.id == "B.6.2.5-components":
        pins = tuple(f"{name}={digest}" for name, digest in sorted(rec.components.items()))
        status: CoverageStatus = "covered" if pins else "not covered"
        return Coverage(req, status, (), pins, f"{len(pins)} component(s) pinned by digest")
    mapped = [
        r
        for r in rec.results
        if req.id in catalogue.counts_for(r["kind"], rec.controls.get(r["id"]))
    ]
    required = [r for r in mapped if not r.get("advisory")]
    advisory = [r for r in mapped if r.get("advisory")]
    aside = f"; advisory, not counted: {_statuses(advisory)}" if advisory else ""
    if not required:
        which = "required criterion" if advisory else "criterion"
        return Coverage(req, "not covered", note=f"no {which} of this release maps to it{aside}")
    ids = tuple(r["id"] for r in required)
    if any(r["status"] not in CLEARED for r in required):
        return Coverage(req, "not covered", ids, note=_statuses(required) + aside)
    evidence: list[str] = []
    for r in required:
        evidence += r.get("evidence") or []
        if r["kind"] == "approval":
            evidence += rec.approvals
        if r["kind"] == "stakeholders":
            evidence.append(rec.revision)
    waived = any(r["status"] == "waived" for r in required)
    return Coverage(
        req,
        "waived" if waived else "covered",
        ids,
        tuple(dict.fromkeys(evidence)),
        _statuses(required) + aside,
    )


def _statuses(results: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{r['id']} {r['status']}" for r in results)


@dataclass(frozen=True)
class Unmapped:
    """A required criterion that passed but counts for no requirement of the matrix, so its
    result covers nothing there."""

    criterion: str
    kind: str
    #: what its `controls:` named, when it named anything
    controls: tuple[str, ...]
    #: the requirement ids it could name
    choices: tuple[str, ...]

    @property
    def message(self) -> str:
        where = f"criteria[id={self.criterion}].controls"
        if self.controls:
            why = f"its controls ({', '.join(self.controls)}) name no requirement of it"
        else:
            why = f"it has no controls: and kind {self.kind} counts nowhere by default"
        return (
            f"{self.criterion} passed but covers nothing in the control matrix: {why}; "
            f"name the requirement it serves at {where}, one of: {', '.join(self.choices)}"
        )


def unmapped_criteria(
    catalogue: Catalogue,
    results: Sequence[Mapping[str, Any]],
    controls: Mapping[str, Sequence[str]],
) -> list[Unmapped]:
    """Required criteria that passed yet count for no requirement, in plan order."""
    return [
        Unmapped(r["id"], r["kind"], tuple(controls.get(r["id"]) or ()), catalogue.mappable)
        for r in results
        if r["status"] == "passed"
        and not r.get("advisory")
        and not catalogue.counts_for(r["kind"], controls.get(r["id"]))
    ]
