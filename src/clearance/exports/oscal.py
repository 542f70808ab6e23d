"""The pack's OSCAL assessment results (oscal/assessment-results.json): one finding per
requirement of the control matrix, each with an observation citing the evidence, which the
back matter lists with its sha256.

Written as plain JSON (importing compliance-trestle's models costs 0.7 s an export); the
tests read every pack's document back with compliance-trestle, which validates it."""

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
#: the OSCAL version the document follows (compliance-trestle's models in the tests)
OSCAL_VERSION = "1.2.1"
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
        relevant = [
            {"href": f"#{r['uuid']}", "description": r["title"] or r["uuid"]}
            for r in {r["uuid"]: r for r in cited}.values()
        ]
        observation = _present(
            uuid=uid("observation", c.requirement.id),
            title=f"What covers {c.requirement.id}",
            description=_observed(c),
            methods=["TEST" if c.criteria else "EXAMINE"],
            collected=collected,
            relevant_evidence=relevant,
        )
        observations.append(observation)
        status = _present(
            state="satisfied" if row["status"] == "covered" else "not-satisfied",
            reason=_reason(row["status"], c.criteria),
            remarks=c.note,
        )
        findings.append(
            _present(
                uuid=uid("finding", c.requirement.id),
                title=f"{c.requirement.id}: {row['status']}",
                description=c.requirement.text,
                props=[_prop("coverage", row["status"])],
                target=_present(
                    type="objective-id",
                    target_id=c.requirement.id,
                    title=f"{c.requirement.control} {c.requirement.control_title}".strip(),
                    status=status,
                ),
                related_observations=[{"observation-uuid": observation["uuid"]}],
            )
        )
    outcome = decision.outcome if decision else "not evaluated"
    release = f"{plan.system.name} {plan.release.version} to {plan.release.target}"
    controls = dict.fromkeys(c.requirement.control for c in coverage)
    results = _present(
        uuid=uid("assessment-results"),
        metadata=_present(
            title=f"Release assessment: {release}",
            last_modified=_utc(at),
            version=plan.release.version,
            oscal_version=OSCAL_VERSION,
            props=[
                _prop("system", plan.system.id),
                _prop("candidate", candidate.digest),
                _prop("decision", outcome),
            ],
        ),
        import_ap={
            "href": _UP + revision,
            "remarks": "No OSCAL assessment plan: the release was assessed against this "
            "deployment plan revision's criteria.",
        },
        results=[
            _present(
                uuid=uid("result"),
                title=f"Release gate: {release}",
                description=f"Candidate {candidate.digest}; latest decision: {outcome}. "
                "A requirement is satisfied only when the required criteria mapped to it "
                "passed with evidence; a waived one is not satisfied.",
                start=collected,
                end=_utc(at),
                reviewed_controls={
                    "control-selections": [
                        {"include-controls": [{"control-id": c} for c in controls]}
                    ]
                },
                observations=observations,
                findings=findings,
            )
        ],
        back_matter=_present(resources=resources.all),
    )
    document = {"assessment-results": results}
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def _present(**fields: Any) -> dict[str, Any]:
    """An OSCAL object: field names in OSCAL's kebab case, empty ones left out."""
    return {k.replace("_", "-"): v for k, v in fields.items() if v not in (None, "", [], {})}


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "ns": NS}


class _Resources:
    """Back-matter resources, one per file, each with its path in the pack and sha256."""

    def __init__(self, uid: Any) -> None:
        self.uid = uid
        self.all: list[dict[str, Any]] = []
        self.by_digest: dict[str, dict[str, Any]] = {}

    def add(self, name: str, data: bytes, title: str, digest: str | None = None) -> Any:
        return self._add(name, hashlib.sha256(data).hexdigest(), title, digest)

    def evidence(self, e: EvidenceRecord) -> None:
        if e.digest in self.by_digest:  # one file attached to several criteria
            return
        title = f"{e.name} (evidence for {e.criterion_id})"
        self._add(evidence_path(e.digest), e.digest.removeprefix("sha256:"), title, e.digest)

    def _add(self, name: str, sha256: str, title: str, digest: str | None) -> dict[str, Any]:
        resource = {
            "uuid": self.uid("resource", name),
            "title": title,
            "rlinks": [{"href": _UP + name, "hashes": [{"algorithm": "SHA-256", "value": sha256}]}],
        }
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


def _utc(value: datetime) -> str:
    """A time as OSCAL writes it: RFC 3339 in UTC, to the millisecond when it has a fraction."""
    value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
