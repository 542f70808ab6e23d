"""A gate evaluation as a SARIF 2.1.0 log, for code-scanning views (GitHub, GitLab, Azure
DevOps) that show results next to the file that caused them.

One result per criterion that did not pass, located at the criterion in the plan file where
it is written there (criteria a policy adds have no place in the plan). A required criterion
that blocks is an `error`, an advisory one a `warning`; a waived one is a `note` carrying the
waiver as an accepted external suppression, which is how SARIF records an exemption.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation
    from clearance.core.results import Result

__all__ = ["SARIF_SCHEMA", "Position", "render_sarif", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://clearance.dev/"
Position = tuple[int, int]


def render_sarif(evaluation: Evaluation, **kwargs: Any) -> str:
    """`sarif_log` as indented JSON text."""
    return json.dumps(sarif_log(evaluation, **kwargs), indent=2, ensure_ascii=False)


def sarif_log(
    evaluation: Evaluation,
    *,
    plan_file: str,
    tool_version: str,
    positions: Mapping[str, Position] | None = None,
    titles: Mapping[str, str] | None = None,
    system: str | None = None,
    version: str | None = None,
    revision: str | None = None,
    warnings: Sequence[Unmapped] = (),
) -> dict[str, Any]:
    """The SARIF log of one evaluation of the plan in `plan_file` (as the command was given
    it). `positions` maps a criterion id to the (line, column) where the plan writes it,
    `titles` to its title; `warnings` (passing criteria that cover no control requirement)
    are notifications of the run, located at their criterion."""
    positions = positions or {}
    titles = titles or {}
    uri = _uri(plan_file)
    shown = [r for r in evaluation.results if r.status.value != "passed"]
    rules = [_rule(r, titles.get(r.id)) for r in dict((r.id, r) for r in shown).values()]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "clearance",
                "version": tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    _notification(w.criterion, w.message, uri, positions.get(w.criterion))
                    for w in warnings
                ],
            }
        ],
        "results": [_result(r, uri, positions.get(r.id)) for r in shown],
        "properties": {
            key: value
            for key, value in (
                ("decision", evaluation.decision),
                ("candidate", evaluation.candidate),
                ("revision", revision),
                ("system", system),
                ("version", version),
            )
            if value is not None
        },
    }
    if system is not None:
        run["automationDetails"] = {"id": f"clearance/{system}/"}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _uri(plan_file: str) -> str:
    """The plan file as a URI reference: relative paths stay relative (code-scanning views
    resolve them against the checkout), absolute ones become file URIs."""
    path = PurePosixPath(plan_file.replace("\\", "/"))
    return path.as_uri() if path.is_absolute() else quote(str(path), safe="/")


def _rule(r: Result, title: str | None) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.kind,
        "shortDescription": {"text": title or f"{r.kind} criterion {r.id}"},
        "properties": {"kind": r.kind, "advisory": r.advisory},
    }


def _level(r: Result) -> str:
    if r.status.value == "waived":
        return "note"
    return "warning" if r.advisory else "error"


def _result(r: Result, uri: str, position: Position | None) -> dict[str, Any]:
    status = r.status.value
    text = f"{r.id} ({r.kind}{', advisory' if r.advisory else ''}) {status}: {r.reason}"
    result: dict[str, Any] = {
        "ruleId": r.id,
        "level": _level(r),
        "message": {"text": text},
        "locations": [_location(uri, position)],
        "properties": {
            "status": status,
            "advisory": r.advisory,
            "observed": r.observed,
            "expected": r.expected,
            "evidence": list(r.evidence),
        },
    }
    if status == "waived":
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": r.reason}
        ]
    return result


def _location(uri: str, position: Position | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if position is not None:
        physical["region"] = {"startLine": position[0], "startColumn": position[1]}
    return {"physicalLocation": physical}


def _notification(
    criterion: str, message: str, uri: str, position: Position | None
) -> dict[str, Any]:
    return {
        "level": "warning",
        "message": {"text": message},
        "locations": [_location(uri, position)],
        "properties": {"criterion": criterion},
    }
