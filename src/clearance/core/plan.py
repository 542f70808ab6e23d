"""The deployment plan of one release, as a Pydantic model; its JSON Schema is published."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from clearance.core.criteria import CRITERION_MODELS, CriterionBase, SchemaPattern, Slug

PLAN_SCHEMA_ID = "https://clearance.dev/schemas/plan/v1.json"
#: a character that is not Unicode White_Space, which is what the loader strips from Text
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
Text = Annotated[
    str, StringConstraints(min_length=1, strip_whitespace=True), SchemaPattern(NOT_BLANK)
]

if TYPE_CHECKING:
    Criterion: TypeAlias = CriterionBase
else:
    # A discriminated union of the registered criterion models, chosen by `kind`.
    Criterion = Annotated[Union[tuple(CRITERION_MODELS)], Field(discriminator="kind")]  # noqa: UP007


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class System(_Model):
    id: Slug
    name: Text
    owner: Text = Field(description="Accountable person (e-mail or user name).")
    purpose: str | None = None


class ChangeRef(_Model):
    system: Text = Field(description="Change management system, e.g. servicenow, jira.")
    id: Text
    implementation_plan: str | None = None
    backout_plan: str | None = None
    test_plan: str | None = None


class Window(_Model):
    start: str
    end: str


class Release(_Model):
    version: Text
    source: Slug = Field(description="Environment where the components were validated.")
    target: Slug = Field(description="Environment the components are released to.")
    change: ChangeRef | None = None
    owner: str | None = Field(None, description="Release owner; defaults to system.owner.")
    window: Window | None = None


class Component(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["digest"], "properties": {"digest": {"type": "string"}}},
                {"required": ["artifact"], "properties": {"artifact": {"type": "string"}}},
                {"required": ["source"], "properties": {"source": {"type": "string"}}},
            ],
            "if": {
                "required": ["mlflow_alias"],
                "properties": {"mlflow_alias": {"type": "string"}},
            },
            "then": {"required": ["source"], "properties": {"source": {"type": "string"}}},
        }
    )
    name: Slug
    kind: Literal["model", "software", "config", "data"]
    version: Text
    digest: Digest | None = Field(None, description="sha256:<hex> of the artifact or image.")
    artifact: str | None = Field(None, description="Artifact file, relative to the plan.")
    uri: str | None = Field(None, description="Where the artifact lives (registry, bucket).")
    source: str | None = Field(
        None,
        description="A registered model version whose artifacts give the digest: "
        "mlflow://models/NAME/VERSION or mlflow://models/NAME@ALIAS.",
    )
    mlflow_alias: Slug | None = Field(
        None,
        description="Registered-model alias a GO release moves to this version (needs "
        "source), e.g. production; a rollback moves it back.",
    )
    deploy: bool = Field(True, description="False: part of the system, not shipped this time.")

    @model_validator(mode="after")
    def _identified(self) -> Component:
        if self.digest is None and self.artifact is None and self.source is None:
            raise ValueError(
                "give a digest (sha256:<hex>), an artifact path or a source "
                "(mlflow://models/NAME/VERSION)"
            )
        if self.mlflow_alias is not None and self.source is None:
            raise ValueError("mlflow_alias needs source (mlflow://models/NAME/VERSION)")
        return self


class Environment(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["manifest", "file"],
                "properties": {"manifest": {"type": "object"}, "file": {"type": "string"}},
            }
        }
    )
    description: str | None = None
    manifest: dict[str, Any] | None = Field(None, description="Manifest written inline.")
    file: str | None = Field(None, description="Manifest file (JSON/YAML), relative to the plan.")

    @model_validator(mode="after")
    def _one_source(self) -> Environment:
        if self.manifest is not None and self.file is not None:
            raise ValueError("give the manifest inline or as a file, not both")
        return self


class InterestedParty(_Model):
    name: Text
    impact: str | None = None
    consideration: str | None = None
    acknowledged_by: Slug | None = Field(
        None,
        description="Role whose holder acknowledges this party's impact and consideration on "
        "each candidate (`clearance acknowledge PLAN --party NAME`).",
    )

    def text_digest(self) -> str:
        """What an acknowledgement is signed over: the party's name, impact and
        consideration as written. Changing any of them leaves earlier acknowledgements
        stale."""
        from clearance.core.digest import json_digest

        return json_digest(
            {"name": self.name, "impact": self.impact, "consideration": self.consideration}
        )


class Rollback(_Model):
    to: Text = Field(description="`previous`, `none` (first release) or a version.")
    procedure: str | None = Field(None, description="Rollback procedure document.")
    rehearsal: str | None = Field(None, description="Rehearsal record (JSON/YAML).")


class Plan(_Model):
    """A deployment plan: what moves where, under which criteria, and how to undo it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        serialize_by_alias=True,
        title="Clearance deployment plan",
    )

    api_version: Literal["clearance/v1"] = Field(alias="apiVersion")
    kind: Literal["DeploymentPlan"]
    system: System
    release: Release
    components: list[Component] = Field(min_length=1)
    environments: dict[Slug, Environment] = Field(
        default_factory=dict,
        # pydantic publishes slug keys as patternProperties, which let other keys through
        json_schema_extra={"additionalProperties": False},
    )
    interested_parties: list[InterestedParty] = Field(default_factory=list)
    rollback: Rollback | None = None
    criteria: list[Criterion] = Field(default_factory=list)

    @property
    def owner(self) -> str:
        return self.release.owner or self.system.owner

    def criterion(self, criterion_id: str) -> CriterionBase:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    def component_names(self) -> list[str]:
        return [c.name for c in self.components]

    def document(self) -> dict[str, Any]:
        """The normalised plan as JSON data: what the revision digest is taken over."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def plan_json_schema() -> dict[str, Any]:
    """The published JSON Schema of plans (draft 2020-12). It accepts what the loader accepts,
    except what needs the whole plan (`reference_problems`) and integers past 2^53."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": PLAN_SCHEMA_ID,
        **Plan.model_json_schema(by_alias=True),
    }


def reference_problems(plan: Plan) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems that need the whole plan: duplicates and references to undeclared names."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen_components: set[str] = set()
    for i, comp in enumerate(plan.components):
        if comp.name in seen_components:
            problems.append((("components", i, "name"), f'duplicate component name "{comp.name}"'))
        seen_components.add(comp.name)

    declared = sorted(plan.environments)
    hint = ", ".join(declared) if declared else "none declared yet"
    for field in ("source", "target"):
        name = getattr(plan.release, field)
        if name not in plan.environments:
            problems.append(
                (
                    ("release", field),
                    f'environment "{name}" is not declared under environments ({hint}); '
                    "add it there",
                )
            )

    seen_ids: dict[str, int] = {}
    for i, crit in enumerate(plan.criteria):
        if crit.id in seen_ids:
            problems.append(
                (
                    ("criteria", i, "id"),
                    f'duplicate criterion id "{crit.id}" (also criteria[{seen_ids[crit.id]}]); '
                    "ids must be unique",
                )
            )
        else:
            seen_ids[crit.id] = i
        for j, name in enumerate(crit.applies_to):
            if name not in seen_components:
                problems.append(
                    (
                        ("criteria", i, "applies_to", j),
                        f'component "{name}" is not declared under components '
                        f"({', '.join(plan.component_names())})",
                    )
                )
        target_component = getattr(crit, "for_", None)
        if target_component is not None and target_component not in seen_components:
            problems.append(
                (
                    ("criteria", i, "for"),
                    f'component "{target_component}" is not declared under components '
                    f"({', '.join(plan.component_names())})",
                )
            )
        for field in ("source", "target"):
            name = getattr(crit, field, None)
            if name is not None and name not in plan.environments:
                problems.append(
                    (
                        ("criteria", i, field),
                        f'environment "{name}" is not declared under environments ({hint})',
                    )
                )
    return problems
