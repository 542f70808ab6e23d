"""`clearance check --format json`: the evaluation as versioned JSON, and the JSON Schema it
follows (published by `clearance schema --output json`).

`schema_version` changes whenever a field is added, renamed or removed; the schema refuses
fields it does not name, so a test that validates real output against it catches any change
that was not published.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation

__all__ = ["CHECK_SCHEMA_ID", "SCHEMA_VERSION", "check_json", "check_json_schema"]

SCHEMA_VERSION = "1.0"
CHECK_SCHEMA_ID = "https://clearance.dev/schemas/check-output/v1.json"
_DIGEST = r"^sha256:[0-9a-f]{64}$"


def check_json(
    evaluation: Evaluation,
    *,
    system: str,
    version: str,
    revision: str,
    warnings: Sequence[Unmapped] = (),
) -> dict[str, Any]:
    """The evaluation as `Evaluation.as_json` writes it, with the schema version, the plan it
    evaluated and the warnings about the plan."""
    body = evaluation.as_json()
    return {
        "schema_version": SCHEMA_VERSION,
        "decision": body["decision"],
        "candidate": body["candidate"],
        "system": system,
        "version": version,
        "revision": revision,
        "criteria": body["criteria"],
        "warnings": [
            {
                "kind": "unmapped-control",
                "criterion": w.criterion,
                "controls": list(w.controls),
                "message": w.message,
            }
            for w in warnings
        ],
    }


def _object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
        **extra,
    }


def check_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `check_json`'s output."""
    from clearance.core.criteria import KINDS
    from clearance.core.results import ACTION_FIELDS, Status

    text_or_null = {"type": ["string", "null"]}
    top = _object(
        {
            "schema_version": {"const": SCHEMA_VERSION},
            "decision": {"enum": ["GO", "NO-GO"]},
            "candidate": {"$ref": "#/$defs/digest", "description": "The candidate evaluated."},
            "system": {"type": "string"},
            "version": {"type": "string", "description": "The release version of the plan."},
            "revision": {"$ref": "#/$defs/digest", "description": "The plan revision."},
            "criteria": {
                "type": "array",
                "items": {"$ref": "#/$defs/result"},
                "description": "One result per criterion, in plan order (policy's first).",
            },
            "warnings": {"type": "array", "items": {"$ref": "#/$defs/warning"}},
        }
    )
    defs = {
        "digest": {"type": "string", "pattern": _DIGEST},
        "result": _object(
            {
                "id": {"type": "string"},
                "kind": {"enum": list(KINDS)},
                "status": {"enum": [s.value for s in Status]},
                "reason": {"type": "string"},
                "observed": {"description": "What the evaluation saw (any JSON)."},
                "expected": {"description": "What the criterion asks for (any JSON)."},
                "evidence": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/digest"},
                    "description": "Digests of the evidence the result used.",
                },
                "advisory": {"type": "boolean"},
                "next": {"type": "array", "items": {"$ref": "#/$defs/action"}},
            }
        ),
        "action": _object(
            {
                "kind": {"enum": list(ACTION_FIELDS)},
                "criterion": {"type": "string"},
                "path": text_or_null,
                "role": text_or_null,
                "person": text_or_null,
                "field": text_or_null,
                "about": {"type": ["array", "null"], "items": {"type": "string"}},
            }
        ),
        "warning": _object(
            {
                "kind": {"const": "unmapped-control"},
                "criterion": {"type": "string"},
                "controls": {"type": "array", "items": {"type": "string"}},
                "message": {"type": "string"},
            },
            description="A required criterion passed but covers no requirement of the "
            "control matrix.",
        ),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": CHECK_SCHEMA_ID,
        "title": "clearance check --format json",
        **top,
        "$defs": defs,
    }
