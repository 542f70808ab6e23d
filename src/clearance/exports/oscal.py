"""The pack's OSCAL assessment results (oscal/assessment-results.json), built with
compliance-trestle's models: one finding per requirement of the control matrix, each with
an observation citing the evidence, which the back matter lists with its sha256."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clearance.exports.packdoc import OSCAL_RESULTS, evidence_path

if TYPE_CHECKING:
    from clearance.core.controls import Coverage
    from clearance.core.plan import Plan
    from clearance.store.records import CandidateRecord, DecisionRecord, EvidenceRecord

NS = "https://clearance.dev/ns/oscal"
_UUIDS = uuid.UUID("5f0f3c52-9d1e-4c59-a7c4-3c1e2b7d9a10")  # namespace of the uuid5s below
_APPROVALS = "signed/approvals/"
#: the hrefs below are relative to the document, which sits one folder down in the pack
_UP = "../" * OSCAL_RESULTS.count("/")


def render_assessment_results(
    *,
    plan: Plan,
    candidate: CandidateRecord,
    coverage: Sequence[Coverage],
    decision: DecisionRecord | None,
    evidence: Sequence[EvidenceRecord],
    files: Mapping[str, bytes],
    at: datetime,
) -> bytes:
    """The assessment results of `candidate` as OSCAL JSON. UUIDs are derived from the
    candidate and what they name, so the same records give the same document."""
    from trestle.oscal import OSCAL_VERSION
    from trestle.oscal import common as oscal
    from trestle.oscal.assessment_results import AssessmentResults, ImportAp, Result

    def uid(*parts: str) -> str:
        return str(uuid.uuid5(_UUIDS, "/".join((candidate.digest, *parts))))

    resources = _Resources(uid)
    revision = f"plan/revisions/{candidate.revision.removeprefix('sha256:')}.json"
    title = f"Deployment plan revision {candidate.revision}"
    resources.add(revision, files[revision], title, candidate.revision)
    for e in evidence:
        resources.evidence(e)
    approvals = _approval_resources(resources, files, candidate.digest)

    collected = _utc(decision.evaluated_at if decision else at)
    observations, findings = [], []
    for c in coverage:
        row = c.as_row()
        cited = [resources.by_digest[d] for d in c.evidence if d in resources.by_digest]
        cited += [approvals[a] for a in c.evidence if a in approvals]
        observation = oscal.Observation(
            uuid=uid("observation", c.requirement.id),
            title=f"What covers {c.requirement.id}",
            description=_observed(c),
            methods=["TEST" if c.criteria else "EXAMINE"],
            collected=collected,
            relevant_evidence=[
                oscal.RelevantEvidence(href=f"#{r.uuid}", description=r.title or r.uuid)
                for r in {r.uuid: r for r in cited}.values()
            ]
            or None,
        )
        observations.append(observation)
        findings.append(
            oscal.Finding(
                uuid=uid("finding", c.requirement.id),
                title=f"{c.requirement.id}: {row['status']}",
                description=c.requirement.text,
                props=[oscal.Property(name="coverage", value=row["status"], ns=NS)],
                target=oscal.FindingTarget(
                    type=oscal.FindingTargetTypeValidValues.objective_id,
                    target_id=c.requirement.id,
                    title=f"{c.requirement.control} {c.requirement.control_title}".strip(),
                    status=oscal.ObjectiveStatus(
                        state=oscal.ObjectiveStatusStateValidValues.satisfied
                        if row["status"] == "covered"
                        else oscal.ObjectiveStatusStateValidValues.not_satisfied,
                        reason=_reason(row["status"], c.criteria),
                        remarks=c.note or None,
                    ),
                ),
                related_observations=[oscal.RelatedObservation(observation_uuid=observation.uuid)],
            )
        )
    outcome = decision.outcome if decision else "not evaluated"
    release = f"{plan.system.name} {plan.release.version} to {plan.release.target}"
    controls = dict.fromkeys(c.requirement.control for c in coverage)
    results = AssessmentResults(
        uuid=uid("assessment-results"),
        metadata=oscal.Metadata(
            title=f"Release assessment: {release}",
            last_modified=_utc(at),
            version=plan.release.version,
            oscal_version=OSCAL_VERSION,
            props=[
                oscal.Property(name="system", value=plan.system.id, ns=NS),
                oscal.Property(name="candidate", value=candidate.digest, ns=NS),
                oscal.Property(name="decision", value=outcome, ns=NS),
            ],
        ),
        import_ap=ImportAp(
            href=_UP + revision,
            remarks="No OSCAL assessment plan: the release was assessed against this "
            "deployment plan revision's criteria.",
        ),
        results=[
            Result(
                uuid=uid("result"),
                title=f"Release gate: {release}",
                description=f"Candidate {candidate.digest}; latest decision: {outcome}. "
                "A requirement is satisfied only when the required criteria mapped to it "
                "passed with evidence; a waived one is not satisfied.",
                start=collected,
                end=_utc(at),
                reviewed_controls=oscal.ReviewedControls(
                    control_selections=[
                        oscal.ControlSelections(
                            include_controls=[
                                oscal.SelectControlById(control_id=c) for c in controls
                            ]
                        )
                    ]
                ),
                observations=observations or None,
                findings=findings or None,
            )
        ],
        back_matter=oscal.BackMatter(resources=resources.all or None),
    )
    return results.oscal_serialize_json_bytes(pretty=True) + b"\n"


class _Resources:
    """Back-matter resources, one per file, each with its path in the pack and sha256."""

    def __init__(self, uid: Any) -> None:
        self.uid = uid
        self.all: list[Any] = []
        self.by_digest: dict[str, Any] = {}

    def add(self, name: str, data: bytes, title: str, digest: str | None = None) -> Any:
        return self._add(name, hashlib.sha256(data).hexdigest(), title, digest)

    def evidence(self, e: EvidenceRecord) -> None:
        if e.digest in self.by_digest:  # one file attached to several criteria
            return
        title = f"{e.name} (evidence for {e.criterion_id})"
        self._add(evidence_path(e.digest), e.digest.removeprefix("sha256:"), title, e.digest)

    def _add(self, name: str, sha256: str, title: str, digest: str | None) -> Any:
        from trestle.oscal import common as oscal

        resource = oscal.Resource(
            uuid=self.uid("resource", name),
            title=title,
            rlinks=[
                oscal.Rlink(href=_UP + name, hashes=[oscal.Hash(algorithm="SHA-256", value=sha256)])
            ],
        )
        self.all.append(resource)
        if digest is not None:
            self.by_digest[digest] = resource
        return resource


def _approval_resources(
    resources: _Resources, files: Mapping[str, bytes], candidate: str
) -> dict[str, Any]:
    """The signed approvals as resources; those of `candidate` also by how the control matrix
    cites them (`approval:<person>:<role>`)."""
    from clearance.exports.packsigned import statements_of

    cited: dict[str, Any] = {}
    for name in sorted(n for n in files if n.startswith(_APPROVALS)):
        shown = statements_of([json.loads(files[name])])
        if not shown:
            continue
        said = shown[0]
        title = f"Signed {said.get('decision')} by {said.get('person')} as {said.get('role')}"
        resource = resources.add(name, files[name], title)
        if said.get("decision") == "approve" and said.get("candidate") == candidate:
            cited[f"approval:{said.get('person')}:{said.get('role')}"] = resource
    return cited


def _observed(c: Coverage) -> str:
    parts = [c.note] if c.note else []
    if c.criteria:
        parts.append(f"criteria: {', '.join(c.criteria)}")
    if c.evidence:
        parts.append(f"evidence: {', '.join(c.evidence)}")
    return "; ".join(parts) or "nothing in this release's records covers it"


def _reason(status: str, criteria: Sequence[str]) -> str:
    if status == "covered":
        return "pass"
    return "fail" if criteria and status != "waived" else "other"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
