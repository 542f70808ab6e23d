"""The organisation's policy: minimum criteria per target environment, and who may waive what.

A policy is read like a plan (YAML, every problem as `file:line:column`). `merge_policy`
puts the policy's criteria for the plan's `release.target` in front of the plan's own; a
plan cannot redefine one of them (same id), so it can neither weaken nor remove it.
Waivers need a policy: without one nobody may waive, and the policy's own approval
criteria can never be waived. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from clearance.core.criteria import CRITERION_MODELS, KINDS, Slug
from clearance.core.digest import json_digest
from clearance.core.durations import Duration, parse_duration
from clearance.core.loader import (  # private helpers shared with the plan loader
    _LOADER,
    MAX_DEPTH,
    MAX_NODES,
    Loc,
    Position,
    _data_loc,
    _field_name,
    _located,
    _number_problems,
    _position,
    _problem,
    _Refused,
    _sorted,
    _Tree,
)
from clearance.core.plan import Criterion, Plan
from clearance.errors import PlanError, Problem

#: where a value of the plan file is written: `positions(("criteria", 3, "id")) -> (line, col)`
Positions = Callable[[Loc], Position | None]
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def _criterion_pattern(value: str) -> str:
    if value == "*" or _ID.fullmatch(value):
        return value
    if value.startswith("kind:"):
        kind = value.removeprefix("kind:")
        if kind in KINDS:
            return value
        raise ValueError(f'unknown kind "{kind}"; expected one of: {", ".join(KINDS)}')
    raise ValueError(f'expected a criterion id, kind:KIND or *, got "{value}"')


CriterionPattern = Annotated[str, AfterValidator(_criterion_pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaiverRule(_Model):
    """People in any of `roles` may waive the criteria matched by `criteria`."""

    roles: list[Slug] = Field(min_length=1)
    criteria: list[CriterionPattern] = Field(
        min_length=1, description="Criterion ids, `kind:KIND` patterns, or `*` for every one."
    )

    def matches(self, criterion_id: str, criterion_kind: str) -> bool:
        return any(p in ("*", criterion_id, f"kind:{criterion_kind}") for p in self.criteria)


class TargetPolicy(_Model):
    """What every release to one target environment must meet, and who may waive what."""

    criteria: list[Criterion] = Field(default_factory=list)
    waivers: list[WaiverRule] = Field(default_factory=list)
    accept_findings: list[WaiverRule] = Field(
        default_factory=list,
        description="Who may accept single findings of findings criteria (signed, justified, "
        "expiring, at most max_waiver long).",
    )


class SignoffPolicy(_Model):
    """How sign-offs must be signed."""

    personal_key_roles: list[Slug] = Field(
        default_factory=list,
        description="Roles whose sign-offs must be signed with the person's own key (the "
        "CLI); a browser sign-off, signed by the workspace on their behalf, is refused.",
    )


#: how long a waiver may last when the policy does not say (or there is no policy)
DEFAULT_MAX_WAIVER = "90d"
DEFAULT_ATTESTATION_EXPIRY = "30d"


def _target_name(value: str) -> str:
    if value == "*" or _ID.fullmatch(value):
        return value
    raise ValueError(
        "expected lower-case letters, digits, '.', '_' or '-' (at most 64), starting with a "
        f'letter or digit, or "*" for every target; got "{value}"'
    )


TargetName = Annotated[str, AfterValidator(_target_name)]


class Policy(BaseModel):
    """The organisation's minimum criteria per target environment; plans cannot lower them."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        serialize_by_alias=True,
        title="Clearance policy",
    )

    api_version: Literal["clearance/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    description: str | None = None
    targets: dict[TargetName, TargetPolicy] = Field(
        default_factory=dict,
        description='Rules per target environment; "*" holds rules for every target.',
    )
    max_waiver: Duration = Field(
        DEFAULT_MAX_WAIVER,
        description="The longest a waiver may last, e.g. 90d; longer ones are refused.",
    )
    signoff: SignoffPolicy | None = Field(
        None, description="How sign-offs must be signed (e.g. personal keys for some roles)."
    )
    attestation_expiry: Duration = Field(
        DEFAULT_ATTESTATION_EXPIRY,
        description="How long a release attestation lets a deploy pipeline deploy, e.g. 30d; "
        "`attestation verify` refuses it after that.",
    )

    def target(self, name: str | None) -> TargetPolicy:
        """The rules for releases to `name`: those for every target ("*") and its own; its
        own criterion of the same id replaces the general one."""
        every = self.targets.get("*") or TargetPolicy()
        own = self.targets.get(name or "") or TargetPolicy()
        own_ids = {c.id for c in own.criteria}
        return TargetPolicy(
            criteria=[*(c for c in every.criteria if c.id not in own_ids), *own.criteria],
            waivers=[*every.waivers, *own.waivers],
            accept_findings=[*every.accept_findings, *own.accept_findings],
        )

    def rule_labels(self, name: str | None) -> dict[str, str]:
        """Where each criterion of `target(name)` is written: `targets.X.criteria[i]`."""
        labels = {}
        for key in ("*", name or ""):
            for i, c in enumerate((self.targets.get(key) or TargetPolicy()).criteria):
                labels[c.id] = f"targets.{key}.criteria[{i}]"
        return labels


# -- reading -------------------------------------------------------------------------------


def parse_policy(
    text: str, filename: str, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH
) -> Policy:
    """Parse and validate policy text; raise PlanError listing every problem found."""
    try:
        data, tree = _compose(text, filename, max_nodes, max_depth)
    except PlanError as exc:
        raise PlanError(exc.problems, "policy") from None
    if not isinstance(data, dict):
        raise PlanError(
            [Problem(filename, 1, 1, "", "a policy is a mapping (apiVersion, kind, targets)")],
            "policy",
        )
    numbers = [_located(filename, tree, loc, loc, msg) for loc, msg in _number_problems(data)]
    if numbers:
        raise PlanError(_sorted(numbers), "policy")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PlanError(
            _sorted([_validation_problem(err, data, filename, tree) for err in exc.errors()]),
            "policy",
        ) from None
    rules = [_located(filename, tree, loc, loc, msg) for loc, msg in _rule_problems(policy)]
    if rules:
        raise PlanError(_sorted(rules), "policy")
    return policy


def yaml_positions(text: str, filename: str) -> Positions:
    """Where each value of a YAML document is written, for `merge_policy(positions=...)`.

    Meant for a plan that already parsed; text that does not parse gives no positions. The
    text is composed again only when a position is first asked for (that is, for an error).
    """
    found: list[Positions] = []

    def position(loc: Loc) -> Position | None:
        if not found:
            try:
                _, tree = _compose(text, filename, MAX_NODES, MAX_DEPTH)
                found.append(tree.position)
            except PlanError:
                found.append(lambda _: None)
        return found[0](loc)

    return position


def _compose(text: str, filename: str, max_nodes: int, max_depth: int) -> tuple[Any, _Tree]:
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise PlanError(
            [Problem(filename, line, column, "", f"YAML syntax error: {message}")]
        ) from None
    except yaml.YAMLError as exc:
        raise PlanError([Problem(filename, None, None, "", f"not YAML: {exc}")]) from None
    if root is None:
        empty = "the file is empty; a policy starts with `apiVersion: clearance/v1`, `kind: Policy`"
        raise PlanError([Problem(filename, 1, 1, "", empty)])
    tree = _Tree(filename, max_nodes, max_depth)
    try:
        return tree.build(root), tree
    except _Refused as exc:
        line, column = _position(exc.node)
        raise PlanError([Problem(filename, line, column, "", exc.message)]) from None


def _rule_problems(policy: Policy) -> Iterator[tuple[Loc, str]]:
    """Problems that need a whole target: duplicate ids, component scopes."""
    for name, target in policy.targets.items():
        seen: dict[str, int] = {}
        for i, crit in enumerate(target.criteria):
            loc: Loc = ("targets", name, "criteria", i)
            if crit.id in seen:
                yield (
                    (*loc, "id"),
                    f'duplicate criterion id "{crit.id}" (also targets.{name}.criteria'
                    f"[{seen[crit.id]}]); ids must be unique within a target",
                )
            seen.setdefault(crit.id, i)
            if crit.applies_to:
                yield (
                    (*loc, "applies_to"),
                    "a policy criterion applies to every component; "
                    "scope criteria to components in the plan instead",
                )


def _validation_problem(err: Any, data: Any, filename: str, tree: _Tree) -> Problem:
    if err["type"] != "extra_forbidden":
        return _problem(err, data, filename, tree)
    # the loader's "did you mean" hints know the plan's fields; these know the policy's
    loc = _data_loc(tuple(err["loc"]), data)
    name = str(loc[-1]) if loc else ""
    allowed = sorted(_fields_at(loc[:-1], data))
    message = f'unknown field "{name}"'
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        message += f'; did you mean "{close[0]}"?'
    elif allowed:
        message += f"; expected one of: {', '.join(allowed)}"
    return _located(filename, tree, loc, loc, message, key=True)


def _fields_at(loc: Loc, data: Any) -> set[str]:
    """Field names allowed at a location of a policy document, for "did you mean" hints."""
    types: list[Any] = [Policy]
    current = data
    for part in loc:
        types = [t for parent in types for t in _step(parent, part)]
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            current = None
        kind = current.get("kind") if isinstance(current, dict) else None
        if kind in KINDS:  # a criterion: only its own kind's fields
            chosen = CRITERION_MODELS[KINDS.index(kind)]
            types = [t for t in types if t not in CRITERION_MODELS or t is chosen]
    models = [t for t in types if isinstance(t, type) and issubclass(t, BaseModel)]
    return {f.alias or n for m in models for n, f in m.model_fields.items()}


def _step(annotation: Any, part: str | int) -> list[Any]:
    """The types a value may have one step below a value of type `annotation`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields.items()
        return [t for n, f in fields if part in (n, f.alias) for t in _expand(f.annotation)]
    args = get_args(annotation)
    if get_origin(annotation) is dict and isinstance(part, str):
        return _expand(args[1])
    if get_origin(annotation) is list and isinstance(part, int):
        return _expand(args[0])
    return []


def _expand(annotation: Any) -> list[Any]:
    """The concrete types an annotation stands for: `Annotated` and unions unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _expand(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [t for arg in get_args(annotation) for t in _expand(arg)]
    return [annotation]


# -- applying ------------------------------------------------------------------------------


def policy_digest(policy: Policy) -> str:
    """sha256 over the RFC 8785 JSON of the normalised policy: names the policy applied."""
    return json_digest(policy.model_dump(mode="json", by_alias=True, exclude_none=True))


_digest_of = policy_digest  # `merge_policy` has a parameter of the same name


def policy_criteria_ids(policy: Policy | None, target: str | None) -> set[str]:
    """Ids of the criteria the policy sets for `target`: how merged ones are recognised."""
    return {c.id for c in policy.target(target).criteria} if policy is not None else set()


def merge_policy(
    plan: Plan,
    policy: Policy | None,
    policy_digest: str | None,
    *,
    filename: str = "plan.yaml",
    positions: Positions | None = None,
) -> Plan:
    """The plan with the policy's criteria for its `release.target` in front of its own.

    `policy_digest` is quoted in messages (computed when None). Problems name the plan
    file `filename`; `positions` maps a location in it such as `("criteria", 3, "id")` to
    `(line, column)` (`yaml_positions(plan_text, filename)` gives one); without it
    problems carry no position. Raises PlanError when the plan defines a criterion with
    the id of a policy criterion, or a policy criterion names an environment the plan
    does not declare. Environment criteria default their source/target from the plan.
    """
    if policy is None:
        return plan
    target = plan.release.target
    required = policy.target(target).criteria
    if not required:
        return plan
    digest = policy_digest or _digest_of(policy)
    short = f"policy {digest[:19]}…" if digest.startswith("sha256:") else f"policy {digest}"
    rule_of = policy.rule_labels(target)
    problems: list[Problem] = []
    for i, crit in enumerate(plan.criteria):
        if crit.id in rule_of:
            message = (
                f'"{crit.id}" is set by policy rule {rule_of[crit.id]} ({short}); a plan '
                "cannot redefine, weaken or remove it — delete it from the plan, "
                "the policy's version applies"
            )
            problems.append(_at(filename, positions, ("criteria", i, "id"), message))
    hint = ", ".join(sorted(plan.environments)) or "none declared yet"
    for crit in required:
        for field in ("source", "target"):
            name = getattr(crit, field, None)
            if name is not None and name not in plan.environments:
                message = (
                    f'environment "{name}" is named by policy rule {rule_of[crit.id]}.{field} '
                    f"({short}) but not declared under environments ({hint}); add it there"
                )
                problems.append(_at(filename, positions, ("environments",), message))
    if problems:
        raise PlanError(_sorted(problems))
    return plan.model_copy(update={"criteria": [*required, *plan.criteria]})


def _at(filename: str, positions: Positions | None, loc: Loc, message: str) -> Problem:
    line, column = (positions(loc) if positions else None) or (None, None)
    return Problem(filename, line, column, _field_name(loc), message)


def waiver_roles(
    policy: Policy | None, target: str | None, criterion_id: str, criterion_kind: str
) -> set[str]:
    """Roles whose members may waive the criterion on a release to `target`.

    The union of the roles of the target's waiver rules that name the id, `kind:<kind>`
    or `*`. Empty without a policy (nobody may waive without one) and for an approval
    criterion the policy itself requires.
    """
    if policy is None:
        return set()
    rules = policy.target(target)
    if any(c.id == criterion_id and c.kind == "approval" for c in rules.criteria):
        return set()
    return {
        role
        for rule in rules.waivers
        if rule.matches(criterion_id, criterion_kind)
        for role in rule.roles
    }


def acceptance_roles(
    policy: Policy | None, target: str | None, criterion_id: str, criterion_kind: str
) -> set[str]:
    """Roles whose members may accept single findings of the criterion on a release to
    `target`: the union of the roles of the target's `accept_findings` rules that name the
    id, `kind:<kind>` or `*`. Empty without a policy: nobody may accept without one."""
    if policy is None or criterion_kind != "findings":
        return set()
    return {
        role
        for rule in policy.target(target).accept_findings
        if rule.matches(criterion_id, criterion_kind)
        for role in rule.roles
    }


def personal_key_roles(policy: Policy | None) -> frozenset[str]:
    """The roles whose sign-offs only count when signed with the person's own key."""
    if policy is None or policy.signoff is None:
        return frozenset()
    return frozenset(policy.signoff.personal_key_roles)


def attestation_expiry(policy: Policy | None) -> timedelta:
    """How long a release attestation issued under `policy` stays valid."""
    return parse_duration(
        policy.attestation_expiry if policy is not None else DEFAULT_ATTESTATION_EXPIRY
    )


def max_waiver(policy: Policy | None) -> timedelta:
    """The longest a waiver may last under `policy`."""
    return parse_duration(policy.max_waiver if policy is not None else DEFAULT_MAX_WAIVER)


def waivable(
    policy: Policy | None, target: str | None, criterion_id: str, criterion_kind: str
) -> bool:
    """Whether anyone may waive the criterion: False without a policy, without a matching
    waiver rule, and always for the approval criteria the policy requires."""
    return bool(waiver_roles(policy, target, criterion_id, criterion_kind))
