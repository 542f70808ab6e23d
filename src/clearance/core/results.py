"""What evaluators receive (parsed evidence, approvals, releases) and what they return."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from clearance.core.plan import Plan


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    PENDING = "pending"
    WAIVED = "waived"
    ERROR = "error"


@dataclass(frozen=True)
class TestCaseFailure:
    __test__ = False  # not a pytest class

    suite: str
    name: str
    kind: Literal["failure", "error"]
    message: str


@dataclass(frozen=True)
class TestReport:
    """A JUnit report reduced to what the tests criterion needs."""

    __test__ = False  # not a pytest class

    tests: int
    failures: int
    errors: int
    skipped: int
    failed_cases: tuple[TestCaseFailure, ...] = ()
    #: (test name, outcome) of every test case, in report order: passed, failed, error,
    #: skipped; what sign-offs are bound to (reports compare equal by their counts)
    cases: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence attached to a criterion, already parsed by the service layer.

    `content` is a parsed document (dict/list) for `document`, a TestReport for `junit`,
    None for `raw`; `problem` says why it could not be parsed (the evaluator reports error).
    """

    name: str
    digest: str
    added_by: str
    added_at: datetime
    role: str | None = None
    content: Any = None
    problem: str | None = None


@dataclass(frozen=True)
class ApprovalRecord:
    """A sign-off, rejection or withdrawal by one person in one role, bound to one candidate
    and to the evidence it had when it was signed.

    `identity` is who the person is, whatever name or key they used (two registered names
    sharing a key are one identity); `evidence_set` is the digest of the candidate's evidence
    at signing time.
    """

    person: str
    role: str
    decision: Literal["approve", "reject", "withdraw"]
    candidate: str
    at: datetime
    comment: str = ""
    identity: str | None = None
    evidence_set: str | None = None

    @property
    def who(self) -> str:
        return self.identity or self.person


@dataclass(frozen=True)
class WaiverRecord:
    """An authorised, justified, expiring exemption of one criterion of one candidate."""

    criterion_id: str
    person: str
    role: str
    justification: str
    candidate: str
    at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AcceptanceRecord:
    """A signed acceptance of one finding of a findings criterion: by rule and location, or by
    vulnerability and package; justified, expiring, bound to one candidate."""

    criterion_id: str
    scope: Literal["rule", "vulnerability"]
    finding: str  # the rule id or the vulnerability id
    where: str  # the location (path:line) or the package (name or name@version)
    person: str
    role: str
    justification: str
    candidate: str
    at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AcknowledgementRecord:
    """A signed acknowledgement, by a person in the role the plan names for an interested
    party, of that party's impact and consideration as written in one candidate's plan.
    `party_digest` is the digest of the party's text the person saw."""

    party: str
    party_digest: str
    person: str
    role: str
    candidate: str
    at: datetime
    comment: str = ""


@dataclass(frozen=True)
class TicketState:
    """The newest state a change system reported for a ticket through a signed webhook;
    `decision` is "approved", "rejected" or "pending"."""

    source: str
    ticket: str
    state: str
    decision: str
    at: datetime
    delivery: str


@dataclass(frozen=True)
class ReleasedCandidate:
    """The candidate last released to the plan's target, as the gate needs to know it."""

    version: str
    candidate: str
    released_at: datetime
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: findings criterion id -> baseline keys of the findings its reports held
    findings: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationContext:
    """Everything an evaluator may look at. Evidence is keyed by criterion id and holds the
    latest item per evidence name, oldest first."""

    plan: Plan
    candidate: str
    now: datetime
    evidence: Mapping[str, Sequence[EvidenceItem]] = field(default_factory=dict)
    approvals: Sequence[ApprovalRecord] = ()
    authors: frozenset[str] = frozenset()
    released: ReleasedCandidate | None = None
    #: digest of the candidate's current evidence; approvals signed over other evidence are stale
    evidence_set: str | None = None
    waivers: Sequence[WaiverRecord] = ()
    #: criteria that no waiver can clear (approvals required by policy)
    unwaivable: frozenset[str] = frozenset()
    #: criterion id -> why waivers recorded for it do not count (shown with its result)
    void_waivers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: signed acceptances of findings that verify now (expired ones included, to be shown)
    acceptances: Sequence[AcceptanceRecord] = ()
    #: criterion id -> why acceptances recorded for it do not count
    void_acceptances: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: signed acknowledgements by interested parties' roles that verify now, any candidate
    acknowledgements: Sequence[AcknowledgementRecord] = ()
    #: why acknowledgements recorded for this release do not count
    void_acknowledgements: Sequence[str] = ()
    #: other digests of the same evidence a sign-off may name (the raw-file digest of a set
    #: whose JUnit reports are counted by outcome; see `evidence_set`)
    evidence_set_aliases: frozenset[str] = frozenset()
    #: evidence-set digest a sign-off named -> what changed in the evidence since then
    evidence_changes: Mapping[str, str] = field(default_factory=dict)
    #: component name -> the digest this candidate gives it
    components: Mapping[str, str] = field(default_factory=dict)
    #: (criterion id, path) the plan names that were not found when the gate ran, so the
    #: copy attached earlier was used (None: the gate did not look at files)
    missing_files: frozenset[tuple[str, str]] = frozenset()
    #: the plan's change ticket as its system last reported it (inbound webhooks)
    change_ticket: TicketState | None = None

    def evidence_for(self, criterion_id: str) -> Sequence[EvidenceItem]:
        return self.evidence.get(criterion_id, ())


ActionKind = Literal[
    "attach",
    "update_evidence",
    "rerun",
    "rehearse",
    "approve",
    "withdraw",
    "waive",
    "fix_plan",
    "accept",
    "acknowledge",
]

#: the fields each kind of next action must carry, besides `kind` and `criterion`
ACTION_FIELDS: Mapping[ActionKind, frozenset[str]] = {
    "attach": frozenset(),  # path (None: any file), role (when it must be attested)
    "update_evidence": frozenset({"path"}),
    "rerun": frozenset({"path"}),
    "rehearse": frozenset({"path"}),
    "approve": frozenset({"role"}),
    "withdraw": frozenset({"role", "person"}),
    "waive": frozenset(),  # role: None when the policy decides who may waive
    "fix_plan": frozenset({"field"}),
    "accept": frozenset({"about"}),  # about: (scope, rule or vulnerability, location or package)
    "acknowledge": frozenset({"role", "about"}),  # about: (party name,)
}


@dataclass(frozen=True)
class NextAction:
    """One thing a person can do to move a criterion on, as data: the CLI renders it as a
    command and a page as a button, so the core never writes commands into reasons.

    - `attach`: attach `path` (None: any file) as evidence; with `role`, attested in that role
    - `update_evidence`: correct the attached `path` (unreadable, wrong content) and attach it again
    - `rerun`: run what produced `path` again (tests, evaluation) and attach the new output
    - `rehearse`: rehearse the rollback and attach the new record `path`
    - `approve`: a person in `role` approves this candidate
    - `withdraw`: `person` withdraws their rejection in `role`
    - `waive`: a person the policy allows (`role`, when known) waives the criterion
    - `fix_plan`: edit the plan at `field` (`release.change`, `criteria[id=env].acknowledge`)
    - `accept`: a person the policy allows (`role`, when known) accepts the finding `about`,
      `(scope, id, where)`: `("rule", "B301", "service/score.py:14")` or
      `("vulnerability", "CVE-2024-1", "jinja2@3.1.2")`
    - `acknowledge`: a person in `role` acknowledges the interested party `about[0]`
    """

    kind: ActionKind
    criterion: str
    path: str | None = None
    role: str | None = None
    person: str | None = None
    field: str | None = None
    about: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTION_FIELDS:
            raise ValueError(f"unknown next action kind {self.kind!r}")
        missing = sorted(f for f in ACTION_FIELDS[self.kind] if not getattr(self, f))
        if missing:
            raise ValueError(f"a next action {self.kind!r} needs {' and '.join(missing)}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NextAction:
        fields = ("path", "role", "person", "field")
        about = data.get("about")
        return cls(
            data["kind"],
            data["criterion"],
            **{f: data.get(f) for f in fields},
            about=tuple(str(a) for a in about) if about is not None else None,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "criterion": self.criterion,
            "path": self.path,
            "role": self.role,
            "person": self.person,
            "field": self.field,
            "about": list(self.about) if self.about is not None else None,
        }


@dataclass(frozen=True)
class Result:
    """The verdict on one criterion, with what was seen, what was expected and from where,
    and what a person can do next when it did not pass."""

    id: str
    kind: str
    status: Status
    reason: str
    observed: Any = None
    expected: Any = None
    evidence: tuple[str, ...] = ()
    advisory: bool = False
    next: tuple[NextAction, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """A result as `as_json` wrote it (e.g. received from a Clearance server)."""
        return cls(
            id=data["id"],
            kind=data["kind"],
            status=Status(data["status"]),
            reason=data["reason"],
            observed=data.get("observed"),
            expected=data.get("expected"),
            evidence=tuple(data.get("evidence") or ()),
            advisory=bool(data.get("advisory")),
            next=tuple(NextAction.from_json(a) for a in data.get("next") or ()),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status.value,
            "reason": self.reason,
            "observed": self.observed,
            "expected": self.expected,
            "evidence": list(self.evidence),
            "advisory": self.advisory,
            "next": [action.as_json() for action in self.next],
        }
