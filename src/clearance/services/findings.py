"""Technical readiness: accepting single scanner findings, acknowledging interested parties,
and what of both the gate may count.

An acceptance is a statement signed by a person the policy lets accept findings of the
criterion (`accept_findings`), never by the plan's owner, submitters or authors; it names
one finding (a rule at a location, or a vulnerability in a package) of one candidate, says
why, and expires within the policy's `max_waiver`. An acknowledgement is a statement signed
by a person holding the role a party names (`acknowledged_by`), over the party's text as the
candidate's plan writes it. Both are recorded insert-only with an event, carried in the audit
pack, and verified again at every evaluation: a row that does not verify, is not on the log,
or whose signer no longer holds the role (or the policy rule) does not count, and the result
says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clearance.core.findings import Finding, FindingsReport, Scope, covers
from clearance.core.identity import Person, normalise_name
from clearance.core.policy import acceptance_roles, max_waiver
from clearance.core.results import AcceptanceRecord, AcknowledgementRecord, ReleasedCandidate
from clearance.core.signoffs import acceptance_problem, acknowledgement_problem
from clearance.errors import ForbiddenError, IntegrityError, NotFoundError, UsageError
from clearance.services.auth import Principal, Signed, require_role, verify_fresh
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.core.criteria import CriterionBase
    from clearance.core.plan import InterestedParty
    from clearance.services.plans import LoadedPlan
    from clearance.store.findings import AcceptanceRow, AcknowledgementRow
    from clearance.store.records import CandidateRecord
    from clearance.store.uow import UnitOfWork

SCOPES = ("rule", "vulnerability")


@dataclass(frozen=True)
class Accepted:
    criterion_id: str
    candidate: str
    findings: tuple[Finding, ...]  # what the acceptance covers in the reports now
    person: str
    role: str
    expires_at: datetime
    new: bool


@dataclass(frozen=True)
class Acknowledged:
    party: str
    candidate: str
    person: str
    role: str
    new: bool


@dataclass
class Readiness:
    """What the gate counts of acceptances and acknowledgements, and why the rest does not."""

    acceptances: list[AcceptanceRecord] = field(default_factory=list)
    void_acceptances: dict[str, list[str]] = field(default_factory=dict)
    acknowledgements: list[AcknowledgementRecord] = field(default_factory=list)
    void_acknowledgements: list[str] = field(default_factory=list)


# -- recording -------------------------------------------------------------------------------


def _statement(
    uow: UnitOfWork, envelope: dict[str, Any], predicate_type: str, caller: Principal | None
) -> tuple[Signed, CandidateRecord, LoadedPlan]:
    """The verified, fresh statement, the recorded candidate it is about and its plan; an
    API caller must be the signer and see the candidate's system."""
    from clearance.core.identity import Scope
    from clearance.services.auth import bind, require_access
    from clearance.services.plans import recorded_candidate, stored_plan

    signed = verify_fresh(uow.conn, envelope, predicate_type, uow.clock())
    bind(caller, signed, Scope.SIGN)
    candidate = recorded_candidate(uow.conn, signed.subject, "the plan")
    require_access(caller, candidate.system_id)
    pred = signed.predicate
    if (pred.get("system"), pred.get("version")) != (candidate.system_id, candidate.version):
        raise ForbiddenError("the statement names another system or version than its candidate")
    return signed, candidate, stored_plan(uow.conn, candidate)


def findings_criterion(loaded: LoadedPlan, criterion_id: str) -> CriterionBase:
    try:
        criterion = loaded.plan.criterion(criterion_id)
    except KeyError:
        ids = [c.id for c in loaded.plan.criteria if c.kind == "findings"]
        raise NotFoundError(
            f'{loaded.name} has no criterion "{criterion_id}" (findings criteria: '
            f"{', '.join(ids) or 'none'})"
        ) from None
    if criterion.kind != "findings":
        raise UsageError(
            f"criterion {criterion_id} is of kind {criterion.kind}; only findings of a findings "
            "criterion can be accepted (waive the whole criterion instead)"
        )
    return criterion


@retrying()
def accept_finding(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> Accepted:
    """Record a signed acceptance of one finding of a findings criterion of a candidate."""
    from clearance.services.gate import authors_of
    from clearance.signing.statements import FINDING_ACCEPTANCE_V1
    from clearance.store import findings as repo
    from clearance.store.findings import AcceptanceRow
    from clearance.store.records import from_time

    with ws.transaction() as uow:
        signed, candidate, loaded = _statement(uow, envelope, FINDING_ACCEPTANCE_V1, caller)
        pred, plan = signed.predicate, loaded.plan
        criterion = findings_criterion(loaded, str(pred.get("criterion", "")))
        scope, ident = str(pred.get("scope", "")), str(pred.get("finding", "")).strip()
        where, role = str(pred.get("where", "")).strip(), str(pred.get("role", ""))
        justification = str(pred.get("justification", ""))
        if scope not in SCOPES:
            raise UsageError(f"{scope!r} is not a kind of finding; expected rule or vulnerability")
        if not ident or not where:
            what = "--rule and --location" if scope == "rule" else "--vuln and --package"
            raise UsageError(f"an acceptance names its finding: give {what}")
        findings = _covered(ws, uow.conn, loaded, candidate, criterion.id, scope, ident, where)
        again = [
            a for a in repo.acceptances_of(uow.conn, candidate.digest) if a.envelope == envelope
        ]
        if again:  # a retry of an acceptance already recorded: the same record
            a = again[0]
            return Accepted(
                a.criterion_id, a.candidate, findings, a.person, a.role, a.expires_at, False
            )
        if not justification.strip():
            raise UsageError(
                "an acceptance needs a justification (-m) saying why the release may go with "
                "this finding open"
            )
        try:
            until = from_time(str(pred.get("expires")))
        except ValueError:
            raise UsageError("the acceptance has no valid expiry") from None
        if until <= signed.at:
            raise UsageError("the acceptance's expiry is already past; it must expire later")
        person = require_role(signed.principal, role, plan.system.id, f"accept findings as {role}")
        problem = acceptance_problem(
            signer_names=(person.name, person.identity),
            role=role,
            holds_role=True,
            allowed_roles=acceptance_roles(
                loaded.policy, plan.release.target, criterion.id, criterion.kind
            ),
            authors=authors_of(uow.conn, loaded, candidate),
            signed_at=signed.at,
            expires_at=until,
            max_duration=max_waiver(loaded.policy),
        )
        if problem is not None:
            error = ForbiddenError if "lasts longer" not in problem else UsageError
            raise error(
                f"{findings[0].describe()} of criterion {criterion.id} cannot be accepted by "
                f"{person.name}: {problem}"
            )
        row = AcceptanceRow(
            id=0,
            candidate=candidate.digest,
            system_id=candidate.system_id,
            criterion_id=criterion.id,
            scope=scope,
            finding=ident,
            place=where,
            person=person.name,
            role=role,
            justification=justification,
            expires_at=until,
            envelope=signed.envelope,
            created_at=signed.at,
        )
        inserted = repo.insert_acceptance(uow, row)
        uow.append(
            "finding.accepted",
            actor=person.name,
            subject=candidate.digest,
            payload={
                "acceptance_id": inserted.id,
                "criterion": criterion.id,
                "scope": scope,
                "finding": ident,
                "where": where,
                "role": role,
                "expires": pred.get("expires"),
                "justification": justification,
                "key_id": signed.principal.key_id,
            },
            system_id=candidate.system_id,
            records=[inserted],
        )
    return Accepted(criterion.id, candidate.digest, findings, person.name, role, until, True)


def _covered(
    ws: Workspace,
    conn: Connection,
    loaded: LoadedPlan,
    candidate: CandidateRecord,
    criterion_id: str,
    scope: str,
    ident: str,
    where: str,
) -> tuple[Finding, ...]:
    """The findings of the candidate's current reports an acceptance names: at least one, all
    at one place (a location given by its file name alone must not cover two files)."""
    findings = candidate_findings(ws, conn, loaded, candidate, criterion_id)
    kind: Scope = "vulnerability" if scope == "vulnerability" else "rule"
    covered = tuple(f for f in findings if covers(kind, ident, where, f))
    if not covered:
        same = [f.describe() for f in findings if f.ident.casefold() == ident.casefold()]
        hint = (
            f"; the reports have {', '.join(dict.fromkeys(same[:5]))}"
            if same
            else f"; the reports hold {len(findings)} findings, none of {ident}"
        )
        raise UsageError(
            f"no finding {ident} {'at' if scope == 'rule' else 'in'} {where} in the reports "
            f"attached to criterion {criterion_id} of this candidate{hint}; name the finding as "
            "`clearance check` shows it"
        )
    places = {f.where for f in covered}
    if len(places) > 1:
        narrow = "give the full path" if kind == "rule" else "give the version (NAME@VERSION)"
        raise UsageError(
            f"{ident} {'at' if kind == 'rule' else 'in'} {where} names findings in "
            f"{len(places)} places ({', '.join(sorted(places)[:5])}); {narrow}"
        )
    return covered


def candidate_findings(
    ws: Workspace,
    conn: Connection,
    loaded: LoadedPlan,
    candidate: CandidateRecord,
    criterion_id: str,
) -> list[Finding]:
    """Every finding of the reports that count for a criterion of a recorded candidate."""
    from clearance.services.evidence import evidence_items
    from clearance.services.verified import verified_evidence

    records = verified_evidence(conn, candidate, loaded.plan.system.id)
    mine = [r for r in records if r.criterion_id == criterion_id]
    items = evidence_items(ws, loaded, mine, conn)
    found: list[Finding] = []
    for item in items.get(criterion_id, []):
        if isinstance(item.content, FindingsReport):
            found += item.content.findings
    return found


def findings_of(
    ws: Workspace, loaded: LoadedPlan, candidate: str, criterion_id: str
) -> list[Finding]:
    """The findings of a criterion of a recorded candidate, for people choosing what to accept."""
    from clearance.services.plans import recorded_candidate

    findings_criterion(loaded, criterion_id)
    with ws.engine.connect() as conn:
        cand = recorded_candidate(conn, candidate, loaded.name)
        return candidate_findings(ws, conn, loaded, cand, criterion_id)


@retrying()
def acknowledge(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> Acknowledged:
    """Record a signed acknowledgement of an interested party's impact and consideration."""
    from clearance.services.gate import authors_of
    from clearance.signing.statements import ACKNOWLEDGEMENT_V1
    from clearance.store import findings as repo
    from clearance.store.findings import AcknowledgementRow

    with ws.transaction() as uow:
        signed, candidate, loaded = _statement(uow, envelope, ACKNOWLEDGEMENT_V1, caller)
        pred, plan = signed.predicate, loaded.plan
        party = party_of(loaded, str(pred.get("party", "")))
        role = party.acknowledged_by
        if role is None:
            raise UsageError(
                f"the plan names no role to acknowledge {party.name}; add acknowledged_by: ROLE "
                "to the party under interested_parties"
            )
        if pred.get("role") != role:
            raise UsageError(
                f"{party.name} is acknowledged in role {role}, not {pred.get('role')!r}"
            )
        if pred.get("party_digest") != party.text_digest():
            raise UsageError(
                f"the impact or consideration of {party.name} changed since the statement was "
                "signed; read them again and acknowledge what the plan says now"
            )
        rows = repo.acknowledgements_of(uow.conn, candidate.system_id, candidate.version)
        again = [a for a in rows if a.envelope == envelope]
        if again:
            return Acknowledged(party.name, candidate.digest, again[0].person, role, False)
        person = require_role(
            signed.principal, role, plan.system.id, f"acknowledge {party.name} as {role}"
        )
        problem = acknowledgement_problem(
            signer_names=(person.name, person.identity),
            role=role,
            holds_role=True,
            authors=authors_of(uow.conn, loaded, candidate),
        )
        if problem is not None:
            raise ForbiddenError(f"{person.name} may not acknowledge {party.name}: {problem}")
        comment = str(pred.get("comment", ""))
        inserted = repo.insert_acknowledgement(
            uow,
            AcknowledgementRow(
                id=0,
                candidate=candidate.digest,
                system_id=candidate.system_id,
                version=candidate.version,
                party=party.name,
                party_digest=party.text_digest(),
                person=person.name,
                role=role,
                comment=comment,
                envelope=signed.envelope,
                created_at=signed.at,
            ),
        )
        uow.append(
            "party.acknowledged",
            actor=person.name,
            subject=candidate.digest,
            payload={
                "acknowledgement_id": inserted.id,
                "party": party.name,
                "party_digest": party.text_digest(),
                "role": role,
                "comment": comment,
                "key_id": signed.principal.key_id,
            },
            system_id=candidate.system_id,
            records=[inserted],
        )
    return Acknowledged(party.name, candidate.digest, person.name, role, True)


def party_of(loaded: LoadedPlan, name: str) -> InterestedParty:
    """The interested party called `name` (case and spaces aside)."""
    wanted = " ".join(name.split()).casefold()
    for party in loaded.plan.interested_parties:
        if " ".join(party.name.split()).casefold() == wanted:
            return party
    names = ", ".join(p.name for p in loaded.plan.interested_parties) or "none"
    raise NotFoundError(f'{loaded.name} has no interested party "{name}" (parties: {names})')


# -- what the gate counts ---------------------------------------------------------------------


class _People:
    """People by name, and who holds each key, read once per evaluation."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.by_name: dict[str, Person | None] = {}
        self.by_key: dict[str, Person | None] = {}

    def named(self, name: str) -> Person | None:
        from clearance.store import people as people_repo

        key = normalise_name(name)
        if key not in self.by_name:
            self.by_name[key] = people_repo.get_person(self.conn, key)
        return self.by_name[key]

    def holding(self, key_id: str) -> Person | None:
        from clearance.store import people as people_repo

        if key_id not in self.by_key:
            self.by_key[key_id] = people_repo.person_by_key(self.conn, key_id)
        return self.by_key[key_id]


def readiness(
    conn: Connection, loaded: LoadedPlan, candidate: CandidateRecord, authors: set[str]
) -> Readiness:
    """The acceptances of the candidate's findings and the acknowledgements of its release's
    parties that count now, each re-verified: its statement, the log, the signer's role and
    the policy of today."""
    from clearance.store import repository as repo

    out = Readiness()
    people = _People(conn)
    logged: dict[str, set[tuple[str, str]]] = {}

    def on_log(subject: str, table: str, digest: str) -> bool:
        if subject not in logged:
            logged[subject] = repo.logged_records(conn, subject)
        return (table, digest) in logged[subject]

    if any(c.kind == "findings" for c in loaded.plan.criteria):
        _acceptances(conn, loaded, candidate, authors, people, on_log, out)
    if any(p.acknowledged_by for p in loaded.plan.interested_parties):
        _acknowledgements(conn, loaded, candidate, authors, people, on_log, out)
    return out


def _acceptances(
    conn: Connection,
    loaded: LoadedPlan,
    candidate: CandidateRecord,
    authors: set[str],
    people: _People,
    on_log: Any,
    out: Readiness,
) -> None:
    from clearance.store import findings as repo

    plan, policy = loaded.plan, loaded.policy
    kinds = {c.id: c.kind for c in plan.criteria}
    for row in repo.acceptances_of_release(conn, plan.system.id, plan.release.version):
        note = _acceptance_note(conn, row, row.candidate, people, on_log)
        if row.candidate != candidate.digest:
            if note is None:  # shown as not carrying over; never counted
                out.acceptances.append(_acceptance_record(row))
            continue
        if note is None:
            signer = people.named(row.person)
            note = acceptance_problem(
                signer_names=(row.person, signer.identity if signer else row.person),
                role=row.role,
                holds_role=signer is not None and signer.holds(row.role, plan.system.id),
                allowed_roles=acceptance_roles(
                    policy, plan.release.target, row.criterion_id, kinds.get(row.criterion_id, "")
                ),
                authors=authors,
                signed_at=row.created_at,
                expires_at=row.expires_at,
                max_duration=max_waiver(policy),
            )
        if note is not None:
            out.void_acceptances.setdefault(row.criterion_id, []).append(
                f"the acceptance of {row.finding} {'at' if row.scope == 'rule' else 'in'} "
                f"{row.place} by {row.person} does not count: {note}"
            )
            continue
        out.acceptances.append(_acceptance_record(row))


def _acceptance_record(row: AcceptanceRow) -> AcceptanceRecord:
    return AcceptanceRecord(
        criterion_id=row.criterion_id,
        scope="vulnerability" if row.scope == "vulnerability" else "rule",
        finding=row.finding,
        where=row.place,
        person=row.person,
        role=row.role,
        justification=row.justification,
        candidate=row.candidate,
        at=row.created_at,
        expires_at=row.expires_at,
    )


def _acceptance_note(
    conn: Connection, row: AcceptanceRow, candidate: str, people: _People, on_log: Any
) -> str | None:
    """Why the row does not say what a verified, logged statement says, or None."""
    from clearance.services.auth import signer_of
    from clearance.signing.statements import FINDING_ACCEPTANCE_V1, statement_subject
    from clearance.store.records import from_time

    if not on_log(candidate, "finding_acceptances", row.digest):
        return "its row is not on the log"
    try:
        person, stmt, at, _ = signer_of(conn, row.envelope, FINDING_ACCEPTANCE_V1, people.holding)
    except IntegrityError as exc:
        return exc.message
    pred = stmt["predicate"]
    try:
        expires = from_time(str(pred.get("expires")))
    except ValueError:
        return "its statement has no expiry"
    said = (
        statement_subject(stmt),
        pred.get("criterion"),
        pred.get("scope"),
        str(pred.get("finding", "")).strip(),
        str(pred.get("where", "")).strip(),
        person.name,
        pred.get("role"),
        expires,
        at,
        pred.get("justification"),
    )
    row_says = (
        candidate,
        row.criterion_id,
        row.scope,
        row.finding,
        row.place,
        normalise_name(row.person),
        row.role,
        row.expires_at,
        row.created_at,
        row.justification,
    )
    if said != row_says:
        return "its row does not say what its signed statement says"
    return None


def _acknowledgements(
    conn: Connection,
    loaded: LoadedPlan,
    candidate: CandidateRecord,
    authors: set[str],
    people: _People,
    on_log: Any,
    out: Readiness,
) -> None:
    from clearance.store import findings as repo

    plan = loaded.plan
    for row in repo.acknowledgements_of(conn, plan.system.id, plan.release.version):
        note = _acknowledgement_note(conn, row, people, on_log)
        if note is None:
            signer = people.named(row.person)
            note = acknowledgement_problem(
                signer_names=(row.person, signer.identity if signer else row.person),
                role=row.role,
                holds_role=signer is not None and signer.holds(row.role, plan.system.id),
                authors=authors if row.candidate == candidate.digest else (),
            )
        if note is not None:
            if row.candidate == candidate.digest:
                out.void_acknowledgements.append(
                    f"the acknowledgement of {row.party} by {row.person} does not count: {note}"
                )
            continue
        out.acknowledgements.append(
            AcknowledgementRecord(
                party=row.party,
                party_digest=row.party_digest,
                person=row.person,
                role=row.role,
                candidate=row.candidate,
                at=row.created_at,
                comment=row.comment,
            )
        )


def _acknowledgement_note(
    conn: Connection, row: AcknowledgementRow, people: _People, on_log: Any
) -> str | None:
    from clearance.services.auth import signer_of
    from clearance.signing.statements import ACKNOWLEDGEMENT_V1, statement_subject

    if not on_log(row.candidate, "acknowledgements", row.digest):
        return "its row is not on the log"
    try:
        person, stmt, at, _ = signer_of(conn, row.envelope, ACKNOWLEDGEMENT_V1, people.holding)
    except IntegrityError as exc:
        return exc.message
    pred = stmt["predicate"]
    said = (
        statement_subject(stmt),
        pred.get("system"),
        pred.get("version"),
        pred.get("party"),
        pred.get("party_digest"),
        person.name,
        pred.get("role"),
        at,
    )
    row_says = (
        row.candidate,
        row.system_id,
        row.version,
        row.party,
        row.party_digest,
        normalise_name(row.person),
        row.role,
        row.created_at,
    )
    if said != row_says:
        return "its row does not say what its signed statement says"
    return None


# -- the release now running, for baseline: released -----------------------------------------


def with_released_findings(
    ws: Workspace, conn: Connection, loaded: LoadedPlan, released: ReleasedCandidate | None
) -> ReleasedCandidate | None:
    """`released` with the baseline keys of the findings its reports held, for each findings
    criterion of this plan that compares with the release (`baseline: released`). A criterion
    the released candidate had no report for is left out: nothing can be told new."""
    from clearance.services.evidence import evidence_items
    from clearance.services.plans import stored_plan
    from clearance.services.verified import verified_evidence
    from clearance.store import repository as repo

    wanted = [
        c.id
        for c in loaded.plan.criteria
        if c.kind == "findings" and getattr(c, "baseline", None) == "released"
    ]
    if released is None or not wanted:
        return released
    record = repo.get_candidate(conn, released.candidate)
    if record is None:
        return released
    then = stored_plan(conn, record)
    then_kinds = {c.id: c.kind for c in then.plan.criteria}
    records = [
        r
        for r in verified_evidence(conn, record, then.plan.system.id)
        if r.criterion_id in wanted and then_kinds.get(r.criterion_id) == "findings"
    ]
    items = evidence_items(ws, then, records, conn)
    baseline: dict[str, frozenset[str]] = {}
    for criterion_id in wanted:
        reports = [
            i.content for i in items.get(criterion_id, []) if isinstance(i.content, FindingsReport)
        ]
        if reports:
            baseline[criterion_id] = frozenset(
                f.baseline_key() for report in reports for f in report.findings
            )
    return replace(released, findings=baseline)


def acceptances_shown(rows: Sequence[AcceptanceRow]) -> list[dict[str, Any]]:
    """Acceptances as the audit pack lists them."""
    from clearance.store.records import to_time

    return [
        {
            "criterion": r.criterion_id,
            "scope": r.scope,
            "finding": r.finding,
            "where": r.place,
            "person": r.person,
            "role": r.role,
            "justification": r.justification,
            "expires": to_time(r.expires_at),
            "at": to_time(r.created_at),
        }
        for r in rows
    ]
