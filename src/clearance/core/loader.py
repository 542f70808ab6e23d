"""Read a plan from YAML (or JSON) text, reporting every problem as `file:line:column`.

The YAML is composed into nodes first, so each value keeps its position; aliases are
expanded under a node budget and a depth limit, which refuses YAML bombs. Validation
errors from Pydantic are translated into what a person should write instead.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from clearance.core.criteria import CRITERION_MODELS, KINDS, MAX_SAFE_INTEGER
from clearance.core.plan import Plan, reference_problems
from clearance.errors import PlanError, Problem

#: libyaml's parser when PyYAML was built with it (several times faster), else pure Python
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 100_000
MAX_DEPTH = 64
Loc = tuple[str | int, ...]
Position = tuple[int, int]


class _Constructor(yaml.constructor.SafeConstructor):
    """Safe scalars, except that timestamps stay the text that was written."""


_Constructor.add_constructor(
    "tag:yaml.org,2002:timestamp",
    yaml.constructor.SafeConstructor.construct_yaml_str,  # type: ignore[type-var]
)


_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
}


def _number_problems(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Numbers that canonical JSON cannot represent exactly."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _number_problems(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _number_problems(value, (*loc, i))
    elif isinstance(data, bool):
        return
    elif isinstance(data, int) and abs(data) > MAX_SAFE_INTEGER:
        yield loc, f"{data} is too large to be kept exactly (over 2^53); quote it as text"
    elif isinstance(data, float) and not math.isfinite(data):
        yield loc, f"{data} is not a finite number"


class _Tree:
    """Python data built from YAML nodes, with the position of every value and key."""

    def __init__(self, filename: str, max_nodes: int, max_depth: int) -> None:
        self.filename = filename
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.nodes = 0
        self.values: dict[Loc, Position] = {}
        self.keys: dict[Loc, Position] = {}
        self._constructor = _Constructor()

    def build(self, node: yaml.Node, loc: Loc = (), depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise _Refused(
                node,
                f"more than {self.max_nodes:,} values after expanding aliases; "
                "a plan this large is refused (is this a YAML bomb?)",
            )
        if depth > self.max_depth:
            raise _Refused(node, f"nested deeper than {self.max_depth} levels; refused")
        self.values.setdefault(loc, _position(node))
        if node.tag not in _PLAIN_TAGS:
            raise _Refused(node, f"unsupported YAML tag {node.tag}; write plain values")
        if isinstance(node, yaml.MappingNode):
            data: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _Refused(key_node, "mapping keys must be plain text")
                key = self._constructor.construct_object(key_node)
                if key in data:
                    raise _Refused(key_node, f'duplicate key "{key}"')
                self.keys.setdefault((*loc, key), _position(key_node))
                data[key] = self.build(value_node, (*loc, key), depth + 1)
            return data
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node)

    def position(self, loc: Loc) -> Position | None:
        """Where the value at `loc` is written, or its nearest enclosing value."""
        while True:
            if loc in self.values:
                return self.values[loc]
            if not loc:
                return None
            loc = loc[:-1]


class _Refused(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def parse_plan(
    text: str, filename: str, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH
) -> Plan:
    """Parse and validate plan text; raise PlanError listing every problem found."""
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
        raise PlanError(
            [Problem(filename, 1, 1, "", "the file is empty; start from `clearance init`")]
        )
    tree = _Tree(filename, max_nodes, max_depth)
    try:
        data = tree.build(root)
    except _Refused as exc:
        line, column = _position(exc.node)
        raise PlanError([Problem(filename, line, column, "", exc.message)]) from None
    if not isinstance(data, dict):
        raise PlanError(
            [Problem(filename, 1, 1, "", "a plan is a mapping (apiVersion, kind, system, ...)")]
        )
    return validate_plan(data, filename, tree)


def validate_plan(data: dict[str, Any], filename: str, tree: _Tree | None = None) -> Plan:
    """Validate plan data (already parsed); positions are used when a tree is given."""
    # Every kind of problem is collected before raising, so one run of `plan validate`
    # reports them all: bad numbers, schema errors and duplicates together.
    problems = [_located(filename, tree, loc, loc, msg) for loc, msg in _number_problems(data)]
    try:
        # Strict, and by field aliases only: the loader takes exactly what the published
        # schema does, so `threshold: "0.7"`, `deploy: 1` or `api_version:` fail in both.
        plan = Plan.model_validate(data, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems += [_problem(err, data, filename, tree) for err in exc.errors()]
        problems += [_located(filename, tree, loc, loc, msg) for loc, msg in _duplicates(data)]
        raise PlanError(_sorted(problems)) from None
    references = reference_problems(plan)
    problems += [_located(filename, tree, loc, loc, msg) for loc, msg in references]
    if problems:
        raise PlanError(_sorted(problems))
    return plan


def _duplicates(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Duplicate component names and criterion ids, found in the raw document, for a plan
    the schema refused (a valid plan gets them from reference_problems)."""
    found: list[tuple[Loc, str]] = []
    for section, key, what in (
        ("components", "name", "component name"),
        ("criteria", "id", "criterion id"),
    ):
        items = data.get(section)
        if not isinstance(items, list):
            continue
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, str):
                continue
            if value in seen:
                found.append(
                    (
                        (section, i, key),
                        f'duplicate {what} "{value}" (also {section}[{seen[value]}]); '
                        f"{key}s must be unique",
                    )
                )
            else:
                seen[value] = i
    return found


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line or 0, p.column or 0))


def _located(
    filename: str, tree: _Tree | None, loc: Loc, shown: Loc, message: str, key: bool = False
) -> Problem:
    pos = None
    if tree is not None:
        pos = tree.keys.get(loc) if key else None
        pos = pos or tree.position(loc)
    line, column = pos if pos else (None, None)
    return Problem(filename, line, column, _field_name(shown), message)


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _data_loc(raw: Loc, data: Any) -> Loc:
    """Pydantic's location, minus the union tags it inserts (`criteria.2.metric.threshold`)."""
    out: list[str | int] = []
    current = data
    for part in raw:
        if (
            isinstance(current, dict)
            and part in KINDS
            and current.get("kind") == part
            and out
            and isinstance(out[-1], int)
        ):
            continue
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        ):
            current = current[part]  # type: ignore[index]
        elif part == "[key]":
            continue
        else:
            current = None
        out.append(part)
    return tuple(out)


def _problem(err: Any, data: Any, filename: str, tree: _Tree | None) -> Problem:
    loc = _data_loc(tuple(err["loc"]), data)
    is_key = err["type"] == "extra_forbidden" or "[key]" in err["loc"]
    message = _message(err, loc, data)
    return _located(filename, tree, loc, loc, message, key=is_key)


def _got(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return str(value)


_EXPECTED = {
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
}
_PATTERNS = {
    "^sha256:[0-9a-f]{64}$": "expected sha256: followed by 64 lower-case hex digits",
    "^[1-9][0-9]{0,5}[mhdw]$": "expected a duration such as 30d, 12h, 2w or 90m",
}


def _message(err: Any, loc: Loc, data: Any) -> str:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {_got(value)}{_unquote_hint(kind, value)}"
    if kind == "string_type":
        hint = (
            "; quote it" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        )
        return f"expected text, got {_got(value)}{hint}"
    if kind == "missing":
        return f"required; add `{loc[-1]}:`" if loc else "required"
    if kind == "extra_forbidden":
        return _unknown_field(loc, data)
    if kind == "string_pattern_mismatch":
        expected = _PATTERNS.get(
            ctx.get("pattern", ""),
            "expected lower-case letters, digits, '.', '_' or '-' (at most 64), "
            "starting with a letter or digit",
        )
        return f"{expected}, got {_got(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {_got(value)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = ctx.get("tag")
        known = ", ".join(KINDS)
        if kind == "union_tag_not_found":
            return f"kind is required; one of: {known}"
        return f'unknown kind "{tag}"; expected one of: {known}'
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()), "?")
        return f"expected a number {op} {bound}, got {_got(value)}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def _unquote_hint(kind: str, value: Any) -> str:
    """Numbers and true/false are never read from quoted text; say so when the text without
    its quotes would be what was expected."""
    wanted = {"float_type": (int, float), "int_type": (int,), "bool_type": (bool,)}.get(kind)
    if wanted is None or not isinstance(value, str):
        return ""
    try:
        unquoted = yaml.safe_load(value)
    except yaml.YAMLError:
        return ""
    fits = isinstance(unquoted, wanted) and (kind == "bool_type" or not isinstance(unquoted, bool))
    return "; write it without quotes" if fits else ""


def _unknown_field(loc: Loc, data: Any) -> str:
    allowed = sorted(_fields_at(loc[:-1], data))
    name = str(loc[-1]) if loc else ""
    message = f'unknown field "{name}"'
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return f'{message}; did you mean "{close[0]}"?'
    if allowed:
        return f"{message}; expected one of: {', '.join(allowed)}"
    return message


def _fields_at(loc: Loc, data: Any) -> set[str]:
    """Field names allowed at a location of the plan, for 'did you mean' hints."""
    if len(loc) == 2 and loc[0] == "criteria" and isinstance(loc[1], int):
        kind = data["criteria"][loc[1]].get("kind")
        return {
            f.alias or n
            for m in CRITERION_MODELS
            if kind in KINDS and m is CRITERION_MODELS[KINDS.index(kind)]
            for n, f in m.model_fields.items()
        }
    models: list[type[BaseModel]] = [Plan]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for model in models:
            for name, field in model.model_fields.items():
                if part in (name, field.alias):
                    nxt.extend(_models_in(field.annotation))
        models = nxt
    return {f.alias or n for m in models for n, f in m.model_fields.items()}


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation is not Plan:
            yield annotation
        return
    if get_origin(annotation) is dict:
        yield from _models_in(get_args(annotation)[1])
        return
    for arg in get_args(annotation):
        if arg in CRITERION_MODELS:
            continue
        yield from _models_in(arg)
