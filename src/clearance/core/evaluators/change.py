"""The change criterion: the change ticket named in `release.change` is approved (blocking
mode, like a ServiceNow change request) or merely recorded (record mode, a change receipt).

A ticket export is a JSON/YAML mapping with the ticket id under `id`, `number` or `key` and
its state under `status`, `state` or `approval`. ServiceNow's `{"result": {...}}` wrapper
and `{"display_value": ..., "value": ...}` fields, and Jira's `fields.status.name`, are read
too.

A change system can also report the ticket through a signed inbound webhook
(`services.tickets`); the newest report, or export, wins. A reported rejection fails the
criterion in blocking mode; record mode shows the reported state and never blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clearance.core.criteria import ChangeCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    attach,
    find_named,
    fix_plan,
    make_result,
    unreadable,
    update,
)
from clearance.core.plan import ChangeRef
from clearance.core.results import (
    EvaluationContext,
    EvidenceItem,
    Result,
    Status,
    TicketState,
)

ID_FIELDS = ("id", "number", "key")
STATE_FIELDS = ("status", "state", "approval")


class TicketError(ValueError):
    """An export without the fields the criterion needs; the message says which."""


def read_ticket(content: Any) -> tuple[str, str]:
    """(ticket id, state) from a parsed export; TicketError names what is missing."""
    if isinstance(content, Mapping) and "result" in content:
        result = content["result"]
        if isinstance(result, list) and len(result) == 1:
            result = result[0]
        content = result
    if not isinstance(content, Mapping):
        raise TicketError("it is not a mapping of ticket fields")
    fields = content.get("fields")
    nested = fields if isinstance(fields, Mapping) else {}
    ticket_id = _field(content, ID_FIELDS)
    if ticket_id is None:
        raise TicketError(f"it has no ticket id under {', '.join(ID_FIELDS)}")
    state = _field(content, STATE_FIELDS) or _field(nested, STATE_FIELDS)
    if state is None:
        raise TicketError(f"it has no state under {', '.join(STATE_FIELDS)}")
    return ticket_id, state


def _field(content: Mapping[str, Any], names: Sequence[str]) -> str | None:
    for name in names:
        value = content.get(name)
        if isinstance(value, Mapping):
            value = next(
                (value[k] for k in ("display_value", "name", "value") if value.get(k)), None
            )
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


@evaluator("change")
def evaluate_change(criterion: ChangeCriterion, ctx: EvaluationContext) -> Result:
    """FAILED without a change reference or for the wrong ticket; PENDING until approved."""
    change = ctx.plan.release.change
    states = list(criterion.approved_states)
    expected: dict[str, Any] = {"mode": criterion.mode}
    if change is None:
        reason = (
            "the plan has no release.change; add the change ticket reference, e.g. "
            "release.change: {system: servicenow, id: CHG0042}"
        )
        actions = [fix_plan(criterion.id, "release.change")]
        return make_result(criterion, Status.FAILED, reason, None, expected, actions=actions)
    expected["id"] = change.id
    ticket = ctx.change_ticket
    if criterion.mode == "record":
        reported = (
            f"; {ticket.source} last reported it {ticket.state!r} ({ticket.decision}) at "
            f"{ticket.at:%Y-%m-%d %H:%M} UTC"
            if ticket is not None
            else ""
        )
        reason = (
            f"change {change.id} ({change.system}) is recorded{reported}; this criterion "
            "records the reference and does not enforce the ticket's approval (mode: record)"
        )
        observed = {"system": change.system, "id": change.id}
        if ticket is not None:
            observed |= {"state": ticket.state, "decision": ticket.decision}
        return make_result(criterion, Status.PASSED, reason, observed, expected)

    expected["state"] = states
    found = _export(criterion, ctx, change)
    if ticket is not None and (isinstance(found, Result) or found[0].added_at <= ticket.at):
        return _reported(criterion, change, ticket, expected)
    if isinstance(found, Result):
        return found
    item, ticket_id, state = found
    observed = {"id": ticket_id, "state": state}
    if ticket_id.casefold() != change.id.strip().casefold():
        reason = (
            f"{item.name} is the export of {ticket_id}, but the plan names {change.id}; "
            f"attach the export of {change.id}, or correct release.change.id"
        )
        path = criterion.evidence or item.name
        actions = [update(criterion.id, path), fix_plan(criterion.id, "release.change.id")]
        return make_result(criterion, Status.FAILED, reason, observed, expected, [item], actions)
    if state.casefold() not in {s.casefold() for s in states}:
        reason = (
            f'{change.id} is in state "{state}"; the release waits for '
            f"{' or '.join(states)} (attach a fresh export of the ticket once it moves on)"
        )
        actions = [attach(criterion.id, criterion.evidence or item.name)]
        return make_result(criterion, Status.PENDING, reason, observed, expected, [item], actions)
    reason = f'{change.id} ({change.system}) is in state "{state}", per {item.name}'
    return make_result(criterion, Status.PASSED, reason, observed, expected, [item])


def _reported(
    criterion: ChangeCriterion, change: ChangeRef, ticket: TicketState, expected: dict[str, Any]
) -> Result:
    """The verdict from the newest state the change system reported by webhook."""
    observed = {"id": ticket.ticket, "state": ticket.state, "decision": ticket.decision}
    when = f"{ticket.source} reported at {ticket.at:%Y-%m-%d %H:%M} UTC"
    states = {s.casefold() for s in criterion.approved_states}
    if ticket.decision == "rejected":
        reason = (
            f"{change.id} was rejected: {when} state {ticket.state!r}; the change must be "
            "approved again in its system (or the release gets a new change ticket)"
        )
        actions = [fix_plan(criterion.id, "release.change.id")]
        return make_result(criterion, Status.FAILED, reason, observed, expected, actions=actions)
    if ticket.decision == "approved" or ticket.state.casefold() in states:
        reason = f'{change.id} ({change.system}) is in state "{ticket.state}", as {when}'
        return make_result(criterion, Status.PASSED, reason, observed, expected)
    reason = (
        f'{change.id} is in state "{ticket.state}" ({when}); the release waits for '
        f"{' or '.join(criterion.approved_states)}"
    )
    actions = [attach(criterion.id, criterion.evidence)]
    return make_result(criterion, Status.PENDING, reason, observed, expected, actions=actions)


def _export(
    criterion: ChangeCriterion, ctx: EvaluationContext, change: ChangeRef
) -> tuple[EvidenceItem, str, str] | Result:
    """The ticket export to read: the file the plan names, else the newest attached export
    (preferring one for the plan's ticket)."""
    items = ctx.evidence_for(criterion.id)
    expected = {"mode": criterion.mode, "id": change.id, "state": list(criterion.approved_states)}
    if criterion.evidence:
        item = find_named(items, criterion.evidence)
        candidates = [] if item is None else [item]
    else:
        candidates = list(reversed(items))
    if not candidates:
        reason = (
            f"the export of {change.id} is not attached yet; export the ticket from "
            f"{change.system} as JSON or YAML and attach it to this criterion"
        )
        actions = [attach(criterion.id, criterion.evidence)]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)

    read: list[tuple[EvidenceItem, str, str]] = []
    errors: list[tuple[EvidenceItem, str]] = []
    for item in candidates:
        if item.problem is not None:
            errors.append((item, unreadable(item)))
            continue
        try:
            ticket_id, state = read_ticket(item.content)
        except TicketError as exc:
            errors.append(
                (item, f"{item.name} is not a change ticket export this criterion can read: {exc}")
            )
            continue
        read.append((item, ticket_id, state))
    for entry in read:
        if entry[1].casefold() == change.id.strip().casefold():
            return entry
    if read:
        return read[0]
    reason = "; ".join(e for _, e in errors)
    broken = [i for i, _ in errors]
    actions = [update(criterion.id, criterion.evidence or i.name) for i in broken]
    return make_result(criterion, Status.ERROR, reason, None, expected, broken, actions)
