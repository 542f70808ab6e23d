"""Plan pages: a system's plan history (every revision, who wrote it and why, and its
candidates) and the semantic diff between any two revisions, section by section."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clearance.services import queries
from clearance.web.pages import signed_in
from clearance.web.render import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/systems/{system_id}")
def history(request: Request, system_id: str) -> Response:
    me = signed_in(request).principal
    ws = request.app.state.ws
    system = queries.system(ws, me, system_id)
    revisions = list(reversed(queries.revisions(ws, me, system_id)))
    by_revision: dict[str, list[Any]] = {}
    for cand in queries.candidates(ws, me, system_id):
        by_revision.setdefault(cand.revision, []).append(cand)
    context = {"system": system, "revisions": revisions, "candidates": by_revision}
    return render(request, "plans/history.html", context)


@router.get("/systems/{system_id}/diff")
def diff(request: Request, system_id: str, old: str = "", new: str = "") -> Response:
    """What changed from revision `old` to `new` (default: the two newest)."""
    from clearance.errors import NotFoundError

    me = signed_in(request).principal
    ws = request.app.state.ws
    system = queries.system(ws, me, system_id)
    revisions = queries.revisions(ws, me, system_id)
    if len(revisions) < 1:
        raise NotFoundError(f"no plan revisions of {system_id}")
    new = new or revisions[-1].digest
    old = old or (revisions[-2].digest if len(revisions) > 1 else new)
    before, after = queries.revision(ws, me, old), queries.revision(ws, me, new)
    if system_id not in (before.system_id, after.system_id) or before.system_id != after.system_id:
        raise NotFoundError(f"those revisions are not both of {system_id}")
    changes = queries.diff(ws, me, old, new)
    sections: dict[str, list[Any]] = {}
    for change in changes:
        sections.setdefault(change.section, []).append(change)
    context = {
        "system": system,
        "revisions": list(reversed(revisions)),
        "before": before,
        "after": after,
        "sections": sections,
        "count": len(changes),
    }
    return render(request, "plans/diff.html", context)
