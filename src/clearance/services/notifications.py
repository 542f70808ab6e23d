"""What an outbound webhook says about an audit event: one JSON body that a Slack-compatible
incoming webhook shows (its `text`) and a program reads (the structured fields beside it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.records import DecisionRecord, EventRecord

BLOCKING = ("failed", "pending", "error")


def notifications(conn: Connection, event: EventRecord) -> Iterator[tuple[str, dict[str, Any]]]:
    """(webhook event, body without its id) for each webhook event `event` causes."""
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    base = {"occurred_at": to_time(event.at), "actor": event.actor, "log_seq": event.seq}
    if event.type == "decision.recorded":
        decision = repo.get_decision(conn, int(event.payload["decision_id"]))
        if decision is None:
            return
        facts = {**base, **_release_facts(decision)}
        waiting = _waiting(decision)
        if waiting and waiting != _waiting(_previous(conn, decision)):
            roles = sorted({role for _, _, role_list in waiting for role in role_list})
            text = (
                f"{_title(decision)} waits for sign-off"
                + (f" by {', '.join(roles)}" if roles else "")
                + ": "
                + "; ".join(reason for _, reason, _ in waiting)
            )
            details: dict[str, Any] = {"criteria": [c for c, _, _ in waiting], "roles": roles}
            yield (
                "signoff.waiting",
                {**facts, "event": "signoff.waiting", "text": text, "details": details},
            )
        blocking = [
            r["id"]
            for r in decision.results
            if r.get("status") in BLOCKING and not r.get("advisory")
        ]
        text = f"{_title(decision)}: {decision.outcome}"
        if blocking:
            count = len(blocking)
            text += f" ({count} {'criterion blocks' if count == 1 else 'criteria block'}: "
            text += ", ".join(blocking) + ")"
        outcome: dict[str, Any] = {
            "outcome": decision.outcome,
            "decision_id": decision.id,
            "blocking": blocking,
        }
        yield "decision", {**facts, "event": "decision", "text": text, "details": outcome}
    elif event.type == "release.recorded":
        p = event.payload
        facts = {**base, **_candidate_facts(conn, event.subject), "target": p.get("target")}
        text = (
            f"{facts.get('system')} {facts.get('version')} was released to {p.get('target')} "
            f"by {event.actor}"
        )
        released: dict[str, Any] = {
            "release_id": p.get("release_id"),
            "components": p.get("components", {}),
        }
        yield "release", {**facts, "event": "release", "text": text, "details": released}
    elif event.type == "attestation.revoked":
        p = event.payload
        facts = {**base, **_candidate_facts(conn, str(p.get("candidate") or event.subject))}
        facts["target"] = p.get("target") or facts.get("target")
        why = p.get("reason")
        text = (
            f"The release attestation of {facts.get('system')} {facts.get('version')} was "
            f"revoked by {event.actor}" + (f": {why}" if why else "")
        )
        yield (
            "attestation.revoked",
            {
                **facts,
                "event": "attestation.revoked",
                "text": text,
                "details": {k: v for k, v in p.items() if k != "records"},
            },
        )


def _title(decision: DecisionRecord) -> str:
    return f"{decision.system_id} {decision.version} → {decision.target}"


def _release_facts(decision: DecisionRecord) -> dict[str, Any]:
    return {
        "system": decision.system_id,
        "version": decision.version,
        "target": decision.target,
        "candidate": decision.candidate,
    }


def _candidate_facts(conn: Connection, candidate: str) -> dict[str, Any]:
    from clearance.store import repository as repo

    found = repo.get_candidate(conn, candidate)
    facts: dict[str, Any] = {"candidate": candidate, "system": None, "version": None}
    if found is not None:
        facts |= {"system": found.system_id, "version": found.version}
    decisions = repo.decisions_of(conn, candidate)
    facts["target"] = decisions[-1].target if decisions else None
    return facts


def _waiting(decision: DecisionRecord | None) -> list[tuple[str, str, list[str]]]:
    """(criterion, reason, roles asked to approve) of the required sign-off criteria that
    wait for people."""
    if decision is None:
        return []
    return [
        (
            str(r["id"]),
            str(r.get("reason", "")),
            sorted({str(a["role"]) for a in r.get("next", []) if a.get("kind") == "approve"}),
        )
        for r in decision.results
        if r.get("kind") == "approval" and r.get("status") == "pending" and not r.get("advisory")
    ]


def _previous(conn: Connection, decision: DecisionRecord) -> DecisionRecord | None:
    from clearance.store import repository as repo

    earlier = [d for d in repo.decisions_of(conn, decision.candidate) if d.id < decision.id]
    return earlier[-1] if earlier else None
