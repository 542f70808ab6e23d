"""The core is pure: every module under clearance.core, found by walking the package tree,
imports no I/O module and nothing from the layers above it, neither in its own source (at any
depth, lazy imports included) nor through what it loads when imported in a fresh interpreter.

Some standard library modules that do I/O (shutil, socket, tempfile) are loaded anyway by the
core's dependencies themselves: pydantic builds its first model through importlib.metadata,
which imports zipfile (shutil), email.utils (socket) and importlib.resources (tempfile). So
for standard library modules the rule is about who imports them: never a clearance module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import clearance.core

#: never loaded at all by importing the core: the layers above it, and I/O libraries
FORBIDDEN_LOADED = (
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
    "clearance.client",
    "clearance.settings",
)
#: standard library I/O modules: no clearance module imports them (os and pathlib are
#: imported by the interpreter itself, and reading paths is not doing I/O)
FORBIDDEN_IO = (
    "sqlite3",
    "socket",
    "subprocess",
    "http",
    "urllib.request",
    "shutil",
    "tempfile",
    "asyncio",
    "multiprocessing",
)
FORBIDDEN = FORBIDDEN_LOADED + FORBIDDEN_IO
#: what the core's source may import besides the standard library
ALLOWED_OUTSIDE_STDLIB = ("clearance.core", "clearance.errors", "pydantic", "yaml", "rfc8785")

PROBE = """
import importlib, json, pkgutil, sys

watched = {io!r}
importers = {{}}

class WhoImports:
    # For each watched module, the module whose code ran the import statement: the first
    # frame outside the import machinery.
    def find_spec(self, name, path=None, target=None):
        if any(name == w or name.startswith(w + ".") for w in watched):
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
                frame = frame.f_back
            who = frame.f_globals.get("__name__", "?") if frame is not None else "?"
            importers.setdefault(name, []).append(who)
        return None

sys.meta_path.insert(0, WhoImports())
import clearance.core as core
walked = {{}}
for info in pkgutil.walk_packages(core.__path__, core.__name__ + "."):
    module = importlib.import_module(info.name)
    walked[info.name] = module.__file__
walked[core.__name__] = core.__file__
print(json.dumps({{"walked": walked, "loaded": sorted(sys.modules), "importers": importers}}))
"""


@cache
def probe() -> dict[str, Any]:
    """Walk clearance.core in a fresh interpreter, import every module found, and report
    what was walked, what got loaded, and who imported each standard library I/O module."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(io=FORBIDDEN_IO)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_walk_finds_every_module_of_the_core() -> None:
    """Every .py file under src/clearance/core is a walked module, so none escapes the
    checks below (a folder without __init__.py would)."""
    root = Path(clearance.core.__file__).parent
    on_disk = {
        ".".join(("clearance", "core", *p.relative_to(root).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for p in root.rglob("*.py")
    }
    walked = set(probe()["walked"])
    assert walked == on_disk
    assert {"clearance.core.evaluators.metric", "clearance.core.decision"} <= walked


def test_importing_the_core_loads_no_outer_layer_and_no_io_library() -> None:
    """A fresh interpreter that imports every core module has loaded none of the layers
    above the core, nor the database, CLI or terminal libraries."""
    loaded = probe()["loaded"]
    assert "clearance.core.evaluators.metric" in loaded  # the probe really imported the core
    assert [m for m in loaded if under(m, FORBIDDEN_LOADED)] == []


def test_no_clearance_module_imports_an_io_module_when_the_core_is_imported() -> None:
    """Every standard library I/O module loaded while importing the core was imported by a
    dependency, never by a clearance module."""
    importers = probe()["importers"]
    ours = {
        module: who
        for module, who in importers.items()
        if any(w == "clearance" or w.startswith("clearance.") for w in who)
    }
    assert ours == {}
    loaded = set(probe()["loaded"])
    assert {m for m in loaded if under(m, FORBIDDEN_IO)} <= set(importers)


def imports_of(source: str) -> list[str]:
    """Every module an import statement in `source` names, wherever the statement is (lazy
    imports inside functions included); `from a import b` names both a and a.b."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the core uses absolute imports"
            base = node.module or ""
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return names


def test_no_core_source_imports_an_io_module_or_an_outer_layer() -> None:
    """Read, not run: no import statement in any core module, however deep, names a
    forbidden module, and everything it imports is the standard library, the core itself,
    the exception tree, or the parsing and model libraries the core is built on."""
    bad: dict[str, list[str]] = {}
    for name, file in probe()["walked"].items():
        for imported in imports_of(Path(file).read_text(encoding="utf-8")):
            top = imported.split(".")[0]
            allowed = under(imported, ALLOWED_OUTSIDE_STDLIB) or top in sys.stdlib_module_names
            if under(imported, FORBIDDEN) or not allowed:
                bad.setdefault(name, []).append(imported)
    assert bad == {}


def test_the_source_check_sees_lazy_imports() -> None:
    """The source check finds an import inside a function, where a fresh interpreter that
    only imports the module would never see it run."""
    source = "def save():\n    import sqlite3\n    from clearance.store import db\n"
    found = imports_of(source)
    assert "sqlite3" in found and "clearance.store.db" in found
    assert under("urllib.request", FORBIDDEN) and not under("urllib.parse", FORBIDDEN)
