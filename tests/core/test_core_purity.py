"""The core is pure: importing it pulls in no database, CLI, terminal or parser library,
and nothing from the layers above it."""

from __future__ import annotations

import json
import subprocess
import sys

CORE_MODULES = [
    "clearance.core",
    "clearance.core.plan",
    "clearance.core.criteria",
    "clearance.core.results",
    "clearance.core.durations",
    "clearance.core.digest",
    "clearance.core.loader",
    "clearance.core.decision",
    "clearance.core.evaluators",
    "clearance.core.merkle",
    "clearance.core.checkpoint",
    "clearance.core.diff",
    "clearance.core.policy",
    "clearance.core.controls",
]
FORBIDDEN = (
    "sqlalchemy",
    "alembic",
    "click",
    "rich",
    "junitparser",
    "clearance.store",
    "clearance.services",
    "clearance.cli",
    "clearance.api",
    "clearance.web",
    "clearance.blobs",
    "clearance.integrations",
    "clearance.exports",
)

PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_core_loads_nothing_from_outside_it() -> None:
    """A fresh interpreter that imports every core module has none of the forbidden ones."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(modules=CORE_MODULES)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(out.stdout)
    assert "clearance.core.evaluators.metric" in loaded  # the probe really imported the core
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []
