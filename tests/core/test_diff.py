"""The semantic plan diff names what a reviewer must know, by component, criterion, role."""

from __future__ import annotations

from typing import Any

import pytest

from clearance.core.diff import diff_plans

BASE: dict[str, Any] = {
    "release": {"version": "1.0", "source": "staging", "target": "production"},
    "components": [
        {"name": "model", "kind": "model", "version": "1.0", "digest": "sha256:a"},
        {"name": "api", "kind": "software", "version": "2.0", "digest": "sha256:b"},
    ],
    "environments": {"staging": {"manifest": {"hosting": "on-prem"}}, "production": {}},
    "rollback": {"to": "none", "procedure": "docs/rollback.md"},
    "criteria": [
        {"id": "auc", "kind": "metric", "metric": "holdout.auc", "threshold": 0.8},
        {
            "id": "signoff",
            "kind": "approval",
            "roles": [{"role": "model-risk", "min": 1}, {"role": "eng-manager", "min": 1}],
        },
    ],
}


def changed(**edits: Any) -> list[str]:
    after = {**BASE, **edits}
    return [str(c) for c in diff_plans(BASE, after)]


def test_identical_plans_have_no_changes() -> None:
    assert diff_plans(BASE, BASE) == []


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ({"components": [BASE["components"][0]]}, ["components api: removed"]),
        (
            {"components": [*BASE["components"], {"name": "cfg", "kind": "config"}]},
            ["components cfg: added"],
        ),
        (
            {"components": [{**BASE["components"][0], "version": "1.1"}, BASE["components"][1]]},
            ["components model: version '1.0' -> '1.1'"],
        ),
        (
            {"criteria": [{**BASE["criteria"][0], "threshold": 0.85}, BASE["criteria"][1]]},
            ["criteria auc: threshold 0.8 -> 0.85"],
        ),
        (
            {
                "criteria": [
                    BASE["criteria"][0],
                    {
                        **BASE["criteria"][1],
                        "roles": [
                            {"role": "model-risk", "min": 2},
                            {"role": "eng-manager", "min": 1},
                        ],
                    },
                ]
            },
            ["criteria signoff: roles.model-risk.min 1 -> 2"],
        ),
        (
            {
                "criteria": [
                    BASE["criteria"][0],
                    {**BASE["criteria"][1], "roles": [{"role": "model-risk", "min": 1}]},
                ]
            },
            ["criteria signoff: roles.eng-manager {'role': 'eng-manager', 'min': 1} -> (none)"],
        ),
        ({"criteria": [BASE["criteria"][1]]}, ["criteria auc: removed"]),
        (
            {
                "environments": {
                    **BASE["environments"],
                    "production": {"manifest": {"hosting": "cloud"}},
                }
            },
            ["environments production: manifest (none) -> {'hosting': 'cloud'}"],
        ),
        (
            {"rollback": {"to": "previous", "procedure": "docs/rollback.md"}},
            ["rollback: to 'none' -> 'previous'"],
        ),
        ({"release": {**BASE["release"], "version": "1.1"}}, ["release: version '1.0' -> '1.1'"]),
    ],
)
def test_each_kind_of_change_is_named(edits: dict[str, Any], expected: list[str]) -> None:
    found = changed(**edits)
    for line in expected:
        assert line in found, found
    assert len(found) == len(expected)
