"""The release criteria a plan can hold: one Pydantic model per kind.

Each model says which files the plan names for it (`named_files`) and how they are
parsed; the evaluator for the kind lives in `core.evaluators` and is found by kind.
Adding a kind means adding a model to `CRITERION_MODELS` and registering an evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)

from clearance.core.durations import Duration

if TYPE_CHECKING:
    from clearance.core.plan import Plan

#: RFC 8785 represents numbers as IEEE doubles: larger integers would not round-trip
MAX_SAFE_INTEGER = 2**53 - 1


def _whole_number(value: Any) -> Any:
    """A float with no fraction is the whole number JSON Schema's `integer` takes it for."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A whole number, written with or without `.0`, never quoted or true/false. Its bounds come
# before the validator, or pydantic would publish them as "ge"/"le", which no schema knows.
WholeNumber = Annotated[int, Field(le=MAX_SAFE_INTEGER), BeforeValidator(_whole_number)]
Count = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER), BeforeValidator(_whole_number)]


@dataclass(frozen=True)
class SchemaPattern:
    """A `pattern` for the published JSON Schema only, saying in a schema what a validator
    of the type already enforces another way (such as stripping whitespace)."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: Any, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        schema = dict(handler(core_schema))
        schema["pattern"] = self.pattern
        return schema


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
EvidenceFormat = Literal["document", "junit", "raw", "findings"]
Paths = str | list[str]


class NamedFile(BaseModel):
    """A file the plan names as evidence, relative to the plan's folder."""

    model_config = ConfigDict(frozen=True)
    path: str
    format: EvidenceFormat


def _as_list(paths: Paths | None) -> list[str]:
    if paths is None:
        return []
    return [paths] if isinstance(paths, str) else list(paths)


class CriterionBase(BaseModel):
    """What every criterion has: id, title, scope, control mapping, advisory flag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug = Field(description="Unique within the plan; lower case, digits, `.`, `_`, `-`.")
    kind: str
    title: str | None = None
    applies_to: list[str] = Field(default_factory=list, description="Component names.")
    controls: list[str] = Field(
        default_factory=list, description="Control requirements served, e.g. B.6.2.5-performance."
    )
    advisory: bool = Field(False, description="Evaluated and shown, never blocking.")

    #: how evidence attached to this criterion with `clearance evidence add` is parsed
    evidence_format: ClassVar[EvidenceFormat] = "raw"
    #: whether the evaluator also reads attachments besides the files the plan names (a
    #: criterion that does not would silently ignore them, so `evidence add` refuses them)
    reads_other_attachments: ClassVar[bool] = False

    def named_files(self, plan: Plan) -> list[NamedFile]:
        """Files the plan names for this criterion; `check` ingests them."""
        return []


def _given(name: str, json_type: str) -> dict[str, Any]:
    """A schema saying that field `name` is given, and not null."""
    return {"required": [name], "properties": {name: {"type": json_type}}}


class MetricCriterion(CriterionBase):
    """A number read from a metrics file (JSON, YAML, CSV) by dotted path, or from MLflow
    (`evidence: mlflow://runs/RUN_ID#metric`), against a threshold or against the value
    recorded for the candidate last released to the same target. With `for: COMPONENT`, it
    must have been measured on that component's digest."""

    kind: Literal["metric"]
    model_config = ConfigDict(
        populate_by_name=True,
        serialize_by_alias=True,
        json_schema_extra={
            "allOf": [
                {"anyOf": [_given("threshold", "number"), _given("baseline", "string")]},
                {"if": _given("baseline", "string"), "then": _given("max_drop", "number")},
                {"if": _given("max_drop", "number"), "then": _given("baseline", "string")},
            ]
        },
    )
    evidence: str | None = Field(
        None,
        description="Metrics file, relative to the plan, or an MLflow metric: "
        "mlflow://runs/RUN_ID#metric, mlflow://models/NAME/VERSION#metric or "
        "mlflow://models/NAME@ALIAS#metric.",
    )
    metric: str = Field(
        description="Dotted path into the metrics file, e.g. holdout.auc; for MLflow, the "
        "name the value is recorded under (the MLflow metric, unless the URI names one)."
    )
    op: Literal[">=", ">", "<=", "<", "=="] = ">="
    threshold: float | None = None
    baseline: Literal["released"] | None = None
    max_drop: float | None = Field(None, ge=0)
    higher_is_better: bool = True
    for_: Slug | None = Field(
        None,
        alias="for",
        description="Component the metric must have been measured on: its digest must be "
        "the one the metrics file (model_digest_field) or MLflow run says.",
    )
    model_digest_field: str | None = Field(
        None,
        description="Dotted path, in the metrics file, to the digest of the model it was "
        "measured on (default model_digest); MLflow says it through the run that logged the "
        "model version.",
    )
    evidence_format: ClassVar[EvidenceFormat] = "document"

    @model_validator(mode="after")
    def _threshold_or_baseline(self) -> MetricCriterion:
        if self.threshold is None and self.baseline is None:
            raise ValueError("give a threshold, or baseline: released with max_drop")
        if self.baseline is not None and self.max_drop is None:
            raise ValueError("baseline: released needs max_drop (the largest allowed regression)")
        if self.max_drop is not None and self.baseline is None:
            raise ValueError("max_drop needs baseline: released")
        return self

    def named_files(self, plan: Plan) -> list[NamedFile]:
        return [NamedFile(path=p, format="document") for p in _as_list(self.evidence)]


class TestsCriterion(CriterionBase):
    """JUnit XML reports (pytest, Maven Surefire, ...) with no failures or errors."""

    kind: Literal["tests"]
    evidence: Paths | None = Field(None, description="JUnit XML report(s), relative to the plan.")
    min_tests: WholeNumber = Field(1, ge=0)
    max_skipped_ratio: float = Field(1.0, ge=0, le=1)
    max_failures: WholeNumber = Field(0, ge=0)
    evidence_format: ClassVar[EvidenceFormat] = "junit"
    reads_other_attachments: ClassVar[bool] = True  # every report attached is summed

    def named_files(self, plan: Plan) -> list[NamedFile]:
        return [NamedFile(path=p, format="junit") for p in _as_list(self.evidence)]


class EvidenceCriterion(CriterionBase):
    """Named documents attached, and where asked, attested by a person in a role."""

    kind: Literal["evidence"]
    documents: list[str] = Field(default_factory=list, description="Files named in the plan.")
    min_documents: WholeNumber = Field(1, ge=1)
    attested_by: str | None = Field(None, description="Role that must attest the evidence.")
    max_age: Duration | None = Field(None, description="Evidence older than this does not count.")
    reads_other_attachments: ClassVar[bool] = True  # min_documents counts every one

    def named_files(self, plan: Plan) -> list[NamedFile]:
        return [NamedFile(path=p, format="raw") for p in self.documents]


class EnvironmentCriterion(CriterionBase):
    """Source and target manifests agree on `must_match`; every other difference is
    acknowledged with a note saying how it is accounted for."""

    kind: Literal["environment"]
    source: str | None = Field(None, description="Defaults to release.source.")
    target: str | None = Field(None, description="Defaults to release.target.")
    must_match: list[str] = Field(default_factory=list, description="Dotted manifest keys.")
    acknowledge: dict[str, Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=dict,
        description="Manifest key (or key prefix) -> note on how the difference is handled.",
    )
    evidence_format: ClassVar[EvidenceFormat] = "document"

    def environments(self, plan: Plan) -> tuple[str, str]:
        return (self.source or plan.release.source, self.target or plan.release.target)

    def named_files(self, plan: Plan) -> list[NamedFile]:
        files = []
        for name in self.environments(plan):
            env = plan.environments.get(name)
            if env is not None and env.file is not None:
                files.append(NamedFile(path=env.file, format="document"))
        return files


class RiskCriterion(CriterionBase):
    """Every risk of the listed categories has mitigations marked verified, with evidence."""

    kind: Literal["risk"]
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    register_file: str = Field(
        alias="register", description="Risk register (YAML, JSON or CSV), relative to the plan."
    )
    categories: list[str] = Field(default_factory=lambda: ["privacy", "security"], min_length=1)
    evidence_format: ClassVar[EvidenceFormat] = "document"

    def named_files(self, plan: Plan) -> list[NamedFile]:
        return [NamedFile(path=self.register_file, format="document")]


class RoleQuorum(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Slug
    min: WholeNumber = Field(1, ge=1)


class ApprovalCriterion(CriterionBase):
    """Sign-offs: a quorum per role on this exact candidate, no standing rejection,
    separation of duties, none expired."""

    kind: Literal["approval"]
    roles: list[RoleQuorum] = Field(min_length=1)
    distinct_people: bool = Field(True, description="One person counts for one role only.")
    forbid_author: bool = Field(True, description="The plan's owner and submitters cannot approve.")
    expires_after: Duration | None = None


class ChangeCriterion(CriterionBase):
    """The change ticket of `release.change` is approved (blocking) or merely recorded."""

    kind: Literal["change"]
    mode: Literal["blocking", "record"] = "blocking"
    evidence: str | None = Field(None, description="Export of the ticket (JSON/YAML).")
    approved_states: list[str] = Field(
        default_factory=lambda: ["approved", "scheduled", "implement"], min_length=1
    )
    evidence_format: ClassVar[EvidenceFormat] = "document"

    def named_files(self, plan: Plan) -> list[NamedFile]:
        return [NamedFile(path=self.evidence, format="document")] if self.evidence else []


class RollbackCriterion(CriterionBase):
    """A rollback target exists, the procedure is attached, the rehearsal is recent enough."""

    kind: Literal["rollback"]
    rehearsed_within: Duration | None = None
    evidence_format: ClassVar[EvidenceFormat] = "document"

    def named_files(self, plan: Plan) -> list[NamedFile]:
        rollback = plan.rollback
        if rollback is None:
            return []
        files = []
        if rollback.procedure:
            files.append(NamedFile(path=rollback.procedure, format="raw"))
        if rollback.rehearsal:
            files.append(NamedFile(path=rollback.rehearsal, format="document"))
        return files


class StakeholdersCriterion(CriterionBase):
    """Every interested party has an impact statement and a consideration, and a person in
    the role a party names (`acknowledged_by`) acknowledged them on this candidate."""

    kind: Literal["stakeholders"]
    require_acknowledgement: bool = Field(
        False,
        description="Every party must name an acknowledged_by role, and be acknowledged in it "
        "(parties that name one are always required to be acknowledged).",
    )


SeverityName = Literal["critical", "high", "medium", "low", "info"]
SeverityCounts = dict[SeverityName, Count]


def _no_critical_or_high() -> SeverityCounts:
    return {"critical": 0, "high": 0}


class FindingsCriterion(CriterionBase):
    """Security and configuration findings from scanner reports (SARIF 2.1.0, CycloneDX
    VEX, pip-audit JSON) within a maximum count per severity; accepted findings (signed,
    expiring) do not count but stay shown."""

    kind: Literal["findings"]
    model_config = ConfigDict(
        json_schema_extra={"if": _given("max_new", "object"), "then": _given("baseline", "string")}
    )
    evidence: Paths | None = Field(None, description="Scanner report(s), relative to the plan.")
    format: Literal["auto", "sarif", "cyclonedx", "pip-audit"] = Field(
        "auto", description="The reports' format; auto detects it from each report."
    )
    max: SeverityCounts = Field(
        default_factory=_no_critical_or_high,
        description="Most open findings allowed per severity; severities not named are "
        "not limited.",
    )
    unrated: SeverityName = Field(
        "high", description="How a finding whose report gives no severity counts."
    )
    tools: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list,
        description="Scanners whose reports must be attached, e.g. [bandit, semgrep].",
    )
    max_age: Duration | None = Field(None, description="Scans older than this do not count.")
    baseline: Literal["released"] | None = Field(
        None, description="Report findings absent from the release now running as new."
    )
    max_new: SeverityCounts | None = Field(
        None, description="Most new open findings allowed per severity (needs baseline)."
    )
    count_suppressed: bool = Field(
        False,
        description="Count findings the report itself suppresses (SARIF suppressions, "
        "VEX not_affected) as open.",
    )
    evidence_format: ClassVar[EvidenceFormat] = "findings"
    reads_other_attachments: ClassVar[bool] = True  # every scanner report attached counts

    @model_validator(mode="after")
    def _new_needs_baseline(self) -> FindingsCriterion:
        if self.max_new is not None and self.baseline is None:
            raise ValueError("max_new needs baseline: released")
        return self

    def named_files(self, plan: Plan) -> list[NamedFile]:
        return [NamedFile(path=p, format="findings") for p in _as_list(self.evidence)]


CRITERION_MODELS: tuple[type[CriterionBase], ...] = (
    MetricCriterion,
    TestsCriterion,
    EvidenceCriterion,
    EnvironmentCriterion,
    RiskCriterion,
    ApprovalCriterion,
    ChangeCriterion,
    RollbackCriterion,
    StakeholdersCriterion,
    FindingsCriterion,
)
KINDS: tuple[str, ...] = tuple(
    m.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in CRITERION_MODELS
)
