"""The risk criterion: every risk of the listed categories in the risk register has at least
one mitigation, and every mitigation is marked verified with a reference to its evidence.

A register is a list of risks, or a mapping with a `risks` list. A risk has `id`, `category`
(a string or a list), an optional `title` and `mitigations` (a list of mappings with `id`,
`description`, `status`, `evidence`). Flat tables (CSV) may instead carry one mitigation per
row in `mitigation`, `mitigation_id`, `status` and `evidence` columns; rows with the same risk
id are merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clearance.core.criteria import RiskCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    attach,
    find_named,
    listing,
    make_result,
    unreadable,
    update,
)
from clearance.core.results import EvaluationContext, Result, Status

VERIFIED = "verified"
SHOWN_PROBLEMS = 5


class RegisterError(ValueError):
    """A register whose shape the criterion cannot read; the message says where."""


@dataclass
class _Risk:
    id: str
    categories: set[str]
    mitigations: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)


@evaluator("risk")
def evaluate_risk(criterion: RiskCriterion, ctx: EvaluationContext) -> Result:
    """FAILED for unmitigated risks or none at all in the categories, PENDING for unverified
    mitigations, ERROR for a register that cannot be read."""
    wanted = [c.casefold() for c in criterion.categories]
    kinds = "/".join(criterion.categories)
    expected = {
        "categories": list(criterion.categories),
        "mitigations": "at least one per risk, each verified with evidence",
    }
    path = criterion.register_file
    item = find_named(ctx.evidence_for(criterion.id), path)
    if item is None:
        reason = f"{path} is not attached yet; attach it to this criterion"
        actions = [attach(criterion.id, path)]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)
    # every other verdict asks for a change to the register itself
    fix = [update(criterion.id, path)]
    if item.problem is not None:
        reason = unreadable(item)
        return make_result(criterion, Status.ERROR, reason, None, expected, [item], fix)
    try:
        register = read_register(item.content)
    except RegisterError as exc:
        reason = f"{item.name} is not a risk register this criterion can read: {exc}"
        return make_result(criterion, Status.ERROR, reason, None, expected, [item], fix)

    relevant = [r for r in register if r.categories & set(wanted)]
    unmitigated = [r.id for r in relevant if not r.mitigations]
    unverified: list[str] = []
    no_evidence: list[str] = []
    for risk in relevant:
        for label, mitigation in risk.mitigations:
            status = str(mitigation.get("status") or "").strip()
            if status.casefold() != VERIFIED:
                state = f'"{status}"' if status else "without a status"
                unverified.append(f"{risk.id}: mitigation {label} is {state}, not verified")
            elif not _has_evidence(mitigation.get("evidence")):
                no_evidence.append(
                    f"{risk.id}: mitigation {label} is verified but names no evidence"
                )
    observed = {
        "risks": [r.id for r in relevant],
        "unmitigated": unmitigated,
        "unverified": len(unverified),
        "without_evidence": len(no_evidence),
    }
    used = [item]

    if not relevant:
        reason = (
            f"{item.name} lists no {kinds} risks; record the system's {kinds} risks with "
            "their mitigations (a register that finds none should say so as a risk entry "
            "with the assessment as its verified mitigation)"
        )
        return make_result(criterion, Status.FAILED, reason, observed, expected, used, fix)
    if unmitigated:
        reason = (
            f"{listing(unmitigated)} in {item.name} "
            f"{'has' if len(unmitigated) == 1 else 'have'} no mitigation; add mitigations "
            "with status and evidence"
        )
        pending = unverified + no_evidence
        if pending:
            reason += f"; also {len(pending)} mitigation(s) not yet verified with evidence"
        return make_result(criterion, Status.FAILED, reason, observed, expected, used, fix)
    pending = unverified + no_evidence
    if pending:
        more = len(pending) - SHOWN_PROBLEMS
        reason = (
            "; ".join(pending[:SHOWN_PROBLEMS])
            + (f"; and {more} more" if more > 0 else "")
            + f"; mark each mitigation status: verified with evidence: <reference> in {item.name}"
        )
        return make_result(criterion, Status.PENDING, reason, observed, expected, used, fix)
    count = sum(len(r.mitigations) for r in relevant)
    reason = (
        f"all {len(relevant)} {kinds} risks in {item.name} have verified mitigations with "
        f"evidence ({count} mitigations)"
    )
    return make_result(criterion, Status.PASSED, reason, observed, expected, used)


def _has_evidence(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value) and not isinstance(value, bool)


def read_register(content: Any) -> list[_Risk]:
    """The risks of a parsed register, merged by id; RegisterError names what is wrong."""
    if isinstance(content, Mapping):
        if "risks" not in content:
            raise RegisterError(
                "it is a mapping without a `risks` list; put the risks under risks:"
            )
        content = content["risks"]
        where = "risks"
    else:
        where = "the register"
    if not isinstance(content, list):
        raise RegisterError(f"{where} must be a list of risks")

    risks: dict[str, _Risk] = {}
    for i, entry in enumerate(content):
        at = f"risks[{i}]"
        if not isinstance(entry, Mapping):
            raise RegisterError(f"{at}: a risk must be a mapping with id, category and mitigations")
        risk_id = str(entry.get("id") or "").strip()
        if not risk_id:
            raise RegisterError(f"{at}: a risk needs an id")
        categories = _categories(entry.get("category"), f"{at} ({risk_id})")
        risk = risks.setdefault(risk_id, _Risk(risk_id, set()))
        risk.categories |= categories
        risk.mitigations.extend(_mitigations(entry, at, len(risk.mitigations)))
    return list(risks.values())


def _categories(value: Any, at: str) -> set[str]:
    if isinstance(value, str) and value.strip():
        return {value.strip().casefold()}
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return {v.strip().casefold() for v in value}
    raise RegisterError(f"{at}: a risk needs a category (e.g. privacy, security)")


def _mitigations(entry: Mapping[str, Any], at: str, offset: int) -> list[tuple[str, Any]]:
    """Labelled mitigations of one risk entry, from a `mitigations` list or a flat row."""
    if "mitigations" not in entry and "mitigation" in entry:
        description = str(entry.get("mitigation") or "").strip()
        if not description:
            return []
        flat = {
            "id": entry.get("mitigation_id"),
            "description": description,
            "status": entry.get("mitigation_status", entry.get("status")),
            "evidence": entry.get("evidence"),
        }
        return [(_label(flat, offset), flat)]
    mitigations = entry.get("mitigations")
    if mitigations is None:
        return []
    if not isinstance(mitigations, list):
        raise RegisterError(f"{at}: mitigations must be a list")
    labelled = []
    for j, mitigation in enumerate(mitigations):
        if not isinstance(mitigation, Mapping):
            raise RegisterError(
                f"{at}.mitigations[{j}]: a mitigation must be a mapping with description, "
                "status and evidence"
            )
        labelled.append((_label(mitigation, offset + j), mitigation))
    return labelled


def _label(mitigation: Mapping[str, Any], index: int) -> str:
    if mitigation.get("id"):
        return str(mitigation["id"])
    description = str(mitigation.get("description") or "").strip()
    if description:
        return f'"{description[:57]}..."' if len(description) > 60 else f'"{description}"'
    return f"#{index + 1}"
