"""The release gate: ingest the plan's evidence, evaluate every criterion, record the decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clearance import __version__
from clearance.core.criteria import MetricCriterion
from clearance.core.decision import Evaluation, evaluate_release
from clearance.core.results import EvaluationContext, ReleasedCandidate, Result, WaiverRecord
from clearance.services.evidence import (
    Progress,
    evidence_items,
    evidence_set_digest,
    ingest_named_files,
    store_named_files,
)
from clearance.services.plans import LoadedPlan, Submitted, submit
from clearance.services.workspace import Workspace, record_event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Checked:
    evaluation: Evaluation
    decision_id: int
    submitted: Submitted
    ingested: int


def check(
    ws: Workspace, loaded: LoadedPlan, actor: str, progress: Progress | None = None
) -> Checked:
    """Submit the revision if new, ingest the files the plan names, evaluate and record."""
    stored = store_named_files(ws, loaded, progress)
    with ws.transaction() as conn:
        return gate(conn, ws, loaded, actor, stored)


def gate(
    conn: Connection, ws: Workspace, loaded: LoadedPlan, actor: str, stored: dict[Any, Any]
) -> Checked:
    """Inside one transaction: submit if new, attach the stored files, evaluate, record."""
    sub = submit(conn, ws, loaded, actor)
    ingested = ingest_named_files(conn, ws, loaded, sub, actor, stored)
    evaluation = evaluate(conn, ws, loaded, sub)
    decision_id = record_decision(conn, ws, loaded, sub, evaluation, actor)
    return Checked(evaluation, decision_id, sub, ingested)


def evaluate(conn: Connection, ws: Workspace, loaded: LoadedPlan, sub: Submitted) -> Evaluation:
    """Evaluate the candidate from what is recorded (no writes)."""
    from clearance.services.people import identities
    from clearance.store import repository as repo

    plan = loaded.plan
    records = repo.evidence_of(conn, sub.candidate.digest)
    authors = {plan.owner, *repo.authors_of_candidate(conn, sub.candidate)}
    ctx = EvaluationContext(
        plan=plan,
        candidate=sub.candidate.digest,
        now=ws.clock(),
        evidence=evidence_items(ws, loaded, records),
        approvals=repo.approvals_of(conn, plan.system.id, plan.release.version),
        authors=frozenset(authors | identities(conn, authors)),
        released=released_candidate(
            conn, plan.system.id, plan.release.target, sub.candidate.digest
        ),
        evidence_set=evidence_set_digest(records),
        waivers=[
            WaiverRecord(
                w["criterion_id"],
                w["person"],
                w["role"],
                w["justification"],
                w["candidate"],
                w["created_at"],
                w["expires_at"],
            )
            for w in repo.waivers_of(conn, sub.candidate.digest)
        ],
        unwaivable=frozenset(
            c.id for c in plan.criteria if c.id in loaded.policy_ids and c.kind == "approval"
        ),
    )
    return evaluate_release(ctx)


def released_candidate(
    conn: Connection, system_id: str, target: str, candidate: str
) -> ReleasedCandidate | None:
    """The other candidate last released to `target`, with the metrics its decision recorded.

    Releases of `candidate` itself are skipped: re-checking a released candidate compares it
    with what ran before it, not with itself.
    """
    from clearance.store import repository as repo

    releases = [r for r in repo.releases_to(conn, system_id, target) if r.candidate != candidate]
    if not releases:
        return None
    last = releases[-1]
    decision = repo.get_decision(conn, last.decision_id)
    return ReleasedCandidate(
        version=last.version,
        candidate=last.candidate,
        released_at=last.released_at,
        metrics=decision.metrics if decision else {},
    )


def metric_values(loaded: LoadedPlan, results: tuple[Result, ...]) -> dict[str, float]:
    """Metric path -> observed value, kept with the decision as the baseline of later releases."""
    values: dict[str, float] = {}
    for criterion, result in zip(loaded.plan.criteria, results, strict=True):
        if not isinstance(criterion, MetricCriterion):
            continue
        observed: Any = result.observed
        if isinstance(observed, dict):
            observed = observed.get("value")
        if isinstance(observed, (int, float)) and not isinstance(observed, bool):
            values.setdefault(criterion.metric, float(observed))
    return values


def record_decision(
    conn: Connection,
    ws: Workspace,
    loaded: LoadedPlan,
    sub: Submitted,
    evaluation: Evaluation,
    actor: str,
) -> int:
    from clearance.store import repository as repo

    plan = loaded.plan
    decision_id = repo.insert_decision(
        conn,
        {
            "candidate": sub.candidate.digest,
            "system_id": plan.system.id,
            "version": plan.release.version,
            "target": plan.release.target,
            "outcome": evaluation.decision,
            "results": [r.as_json() for r in evaluation.results],
            "metrics": metric_values(loaded, evaluation.results),
            "evaluator_version": __version__,
            "actor": actor,
            "evaluated_at": ws.clock(),
            "policy": loaded.policy_digest,
        },
    )
    if evaluation.decision == "GO":
        issue_attestation(conn, ws, loaded, sub, evaluation, decision_id)
    record_event(
        conn,
        ws,
        "decision.recorded",
        actor,
        sub.candidate.digest,
        {
            "decision_id": decision_id,
            "outcome": evaluation.decision,
            "statuses": {r.id: r.status.value for r in evaluation.results},
        },
        plan.system.id,
    )
    return decision_id


def issue_attestation(
    conn: Connection,
    ws: Workspace,
    loaded: LoadedPlan,
    sub: Submitted,
    evaluation: Evaluation,
    decision_id: int,
) -> dict[str, Any]:
    """The signed release attestation of a GO decision: an in-toto Statement v1 whose subjects
    are the components deployed, carrying digests only (never evidence content)."""
    from clearance.signing.statements import (
        RELEASE_DECISION_V1,
        envelope_digest,
        sign_statement,
        statement,
    )
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    plan, candidate = loaded.plan, sub.candidate
    deployed = [(c.name, c.digest) for c in candidate.components if c.deploy]
    current = [
        envelope_digest(envelope)
        for signed_for, envelope in repo.approval_envelopes(
            conn, plan.system.id, plan.release.version
        )
        if signed_for == candidate.digest
    ]
    waivers = [envelope_digest(w["envelope"]) for w in repo.waivers_of(conn, candidate.digest)]
    at = ws.clock()
    stmt = statement(
        deployed or [(c.name, c.digest) for c in candidate.components],
        RELEASE_DECISION_V1,
        {
            "decision": evaluation.decision,
            "system": plan.system.id,
            "version": plan.release.version,
            "target": plan.release.target,
            "candidate": candidate.digest,
            "revision": candidate.revision,
            "policy": loaded.policy_digest,
            "criteria": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "status": r.status.value,
                    "evidence": list(r.evidence),
                    "advisory": r.advisory,
                }
                for r in evaluation.results
            ],
            "approvals": current,
            "waivers": waivers,
            "evaluator": {"name": "clearance", "version": __version__},
            "time": to_time(at),
        },
    )
    envelope = sign_statement(stmt, ws.signing_key)
    repo.insert_attestation(conn, decision_id, candidate.digest, envelope, at)
    record_event(
        conn,
        ws,
        "attestation.issued",
        "clearance",
        candidate.digest,
        {"decision_id": decision_id, "envelope": envelope_digest(envelope)},
        plan.system.id,
    )
    return envelope
