"""The release gate: attach the plan's evidence, evaluate every criterion from what verifies,
record the decision (and, for GO, the signed release attestation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clearance import __version__
from clearance.core.criteria import MetricCriterion
from clearance.core.decision import Evaluation, evaluate_release
from clearance.core.results import EvaluationContext, ReleasedCandidate, Result
from clearance.core.signoffs import unwaivable
from clearance.services.auth import Principal
from clearance.services.evidence import (
    StoredFiles,
    attach_stored,
    evidence_items,
    require_stored,
)
from clearance.services.plans import LoadedPlan, Submitted, current, may_write, submit
from clearance.services.workspace import Workspace
from clearance.store.uow import Inserted, retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.records import CandidateRecord
    from clearance.store.uow import UnitOfWork


@dataclass(frozen=True)
class Checked:
    evaluation: Evaluation
    decision_id: int
    submitted: Submitted
    ingested: int


@retrying()
def check(
    ws: Workspace,
    principal: Principal,
    loaded: LoadedPlan,
    digests: Mapping[str, str],
    stored: StoredFiles,
) -> Checked:
    """Submit the revision if new, attach the stored files the plan names, evaluate and
    record. Anyone may check (an unsigned check is recorded as unsigned)."""
    may_write(principal, loaded.plan.system.id)
    require_stored(ws, stored)
    with ws.transaction() as uow:
        return gate(uow, ws, principal, loaded, digests, stored)


def gate(
    uow: UnitOfWork,
    ws: Workspace,
    principal: Principal,
    loaded: LoadedPlan,
    digests: Mapping[str, str],
    stored: StoredFiles,
) -> Checked:
    """Inside one transaction: submit if new, attach the stored files, evaluate, record."""
    loaded = current(uow.conn, loaded)
    sub = submit(uow, principal, loaded, digests)
    ingested = attach_stored(uow, principal, sub, stored)
    evaluation = evaluate(uow.conn, ws, loaded, sub.candidate, missing_files(loaded, stored))
    decision_id = record_decision(uow, ws, principal, loaded, sub, evaluation)
    return Checked(evaluation, decision_id, sub, ingested)


def missing_files(loaded: LoadedPlan, stored: StoredFiles) -> frozenset[tuple[str, str]]:
    """The (criterion, path) the plan names that the caller found no file for."""
    plan = loaded.plan
    named = {(c.id, f.path) for c in plan.criteria for f in c.named_files(plan)}
    return frozenset(named - set(stored))


def authors_of(conn: Connection, loaded: LoadedPlan, candidate: CandidateRecord) -> set[str]:
    """The plan's owner and everyone who submitted its revision or candidate, by every name
    and identity (separation of duties keeps them from approving or waiving)."""
    from clearance.services.people import identities
    from clearance.store import repository as repo

    names = {loaded.plan.owner, *repo.authors_of_candidate(conn, candidate)}
    return names | identities(conn, names)


def evaluate(
    conn: Connection,
    ws: Workspace,
    loaded: LoadedPlan,
    candidate: CandidateRecord,
    missing: frozenset[tuple[str, str]] = frozenset(),
) -> Evaluation:
    """Evaluate the candidate from what is recorded and verifies now (no writes). `missing`
    are the (criterion, path) the plan names that the caller did not find, so the results
    that use an earlier attached copy say so."""
    from clearance.services.evidence_sets import evidence_sets, explain_stale
    from clearance.services.findings import readiness, with_released_findings
    from clearance.services.tickets import reported_state
    from clearance.services.verified import verified_records

    plan, now = loaded.plan, ws.clock()
    authors = authors_of(conn, loaded, candidate)
    verified = verified_records(conn, loaded, candidate, authors, now)
    ready = readiness(conn, loaded, candidate, authors)
    released = released_candidate(conn, plan.system.id, plan.release.target, candidate.digest)
    items = evidence_items(ws, loaded, verified.evidence, conn)
    sets = evidence_sets(ws, loaded, verified.evidence, conn, items)
    ctx = EvaluationContext(
        plan=plan,
        candidate=candidate.digest,
        now=now,
        evidence=items,
        approvals=verified.approvals,
        authors=frozenset(authors),
        released=with_released_findings(ws, conn, loaded, released),
        evidence_set=sets.current,
        evidence_set_aliases=sets.accepted,
        evidence_changes=explain_stale(
            ws, loaded, verified.evidence, verified.approvals, candidate.digest, conn, items
        ),
        components={c.name: c.digest for c in candidate.components},
        missing_files=missing,
        waivers=verified.waivers,
        unwaivable=unwaivable(plan, loaded.policy_ids),
        void_waivers=verified.void_waivers,
        acceptances=ready.acceptances,
        void_acceptances=ready.void_acceptances,
        acknowledgements=ready.acknowledgements,
        void_acknowledgements=ready.void_acknowledgements,
        change_ticket=reported_state(conn, plan),
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
    uow: UnitOfWork,
    ws: Workspace,
    principal: Principal,
    loaded: LoadedPlan,
    sub: Submitted,
    evaluation: Evaluation,
) -> int:
    from clearance.store import repository as repo
    from clearance.store.records import DecisionRecord

    plan = loaded.plan
    inserted = repo.insert_decision(
        uow,
        DecisionRecord(
            id=0,
            candidate=sub.candidate.digest,
            system_id=plan.system.id,
            version=plan.release.version,
            target=plan.release.target,
            outcome=evaluation.decision,
            results=[r.as_json() for r in evaluation.results],
            metrics=metric_values(loaded, evaluation.results),
            evaluator_version=__version__,
            actor=principal.name,
            evaluated_at=uow.clock(),
            policy=loaded.policy_digest,
        ),
    )
    uow.append(
        "decision.recorded",
        actor=principal.name,
        subject=sub.candidate.digest,
        payload={
            "decision_id": inserted.id,
            "outcome": evaluation.decision,
            "statuses": {r.id: r.status.value for r in evaluation.results},
            "auth": principal.method,
        },
        system_id=plan.system.id,
        records=[inserted],
    )
    if evaluation.decision == "GO":
        issue_attestation(uow, ws, loaded, sub, evaluation, inserted)
    else:  # a candidate that is NO-GO now is no longer cleared by its earlier GO
        from clearance.services.revocations import revoke_candidate

        reason = f"a later decision (#{inserted.id}) on the candidate is {evaluation.decision}"
        revoke_candidate(uow, ws, sub.candidate.digest, plan.release.target, reason, "clearance")
    return inserted.id


def issue_attestation(
    uow: UnitOfWork,
    ws: Workspace,
    loaded: LoadedPlan,
    sub: Submitted,
    evaluation: Evaluation,
    decision: Inserted,
) -> dict[str, Any]:
    """The signed release attestation of a GO decision: an in-toto Statement v1 whose subjects
    are the components deployed, carrying digests only (never evidence content)."""
    from clearance.core.policy import attestation_expiry
    from clearance.signing.statements import (
        RELEASE_DECISION_V1,
        envelope_digest,
        shipped_digest,
        sign_statement,
        statement,
    )
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    plan, candidate, conn = loaded.plan, sub.candidate, uow.conn
    deployed = [(c.name, c.digest) for c in candidate.components if c.deploy]
    # approvals and waivers by the sha256 of the envelope files the audit pack ships
    current = [
        shipped_digest(a.envelope)
        for a in repo.signed_approvals(conn, plan.system.id, plan.release.version)
        if a.record.candidate == candidate.digest and a.envelope is not None
    ]
    waivers = [shipped_digest(w.envelope) for w in repo.waivers_of(conn, candidate.digest)]
    at = uow.clock()
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
            **_readiness_digests(conn, plan.system.id, plan.release.version, candidate.digest),
            "evaluator": {"name": "clearance", "version": __version__},
            "time": to_time(at),
            "expires": to_time(at + attestation_expiry(loaded.policy)),
            "digests": "sha256 of each envelope file as shipped",
        },
    )
    envelope = sign_statement(stmt, ws.signing_key)
    inserted = repo.insert_attestation(uow, decision.id, candidate.digest, envelope, at)
    uow.append(
        "attestation.issued",
        actor="clearance",
        subject=candidate.digest,
        payload={"decision_id": decision.id, "envelope": envelope_digest(envelope)},
        system_id=plan.system.id,
        records=[inserted],
    )
    return envelope


def _readiness_digests(
    conn: Connection, system_id: str, version: str, candidate: str
) -> dict[str, list[str]]:
    """Digests of the signed acceptances of the candidate's findings and acknowledgements of
    its interested parties, for the release attestation (digests only, like the others)."""
    from clearance.signing.statements import envelope_digest
    from clearance.store import findings as findings_repo

    return {
        "acceptances": [
            envelope_digest(a.envelope) for a in findings_repo.acceptances_of(conn, candidate)
        ],
        "acknowledgements": [
            envelope_digest(a.envelope)
            for a in findings_repo.acknowledgements_of(conn, system_id, version)
            if a.candidate == candidate
        ],
    }
