"""Starter folders for `clearance init --template NAME`: a commented plan and the small
files it names (environment manifest, risk register, rollback procedure, change ticket)."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from clearance.errors import UsageError

__all__ = ["TEMPLATES", "template_files"]

TEMPLATES: dict[str, str] = {
    "tabular-classifier": "A scikit-learn style classifier on tabular data, with fairness "
    "and no-regression criteria",
    "llm-app": "An LLM application (prompt, model configuration, retrieval index) with "
    "quality, safety and red-team criteria",
}

_SKIPPED = {"__pycache__", ".DS_Store"}


def template_files(name: str) -> dict[str, bytes]:
    """The files of template `name`, as relative POSIX path -> content, sorted by path."""
    if name not in TEMPLATES:
        known = ", ".join(sorted(TEMPLATES))
        raise UsageError(f'unknown template "{name}"; choose one of: {known}')
    root = files("clearance.templates") / name
    collected: dict[str, bytes] = {}
    _collect(root, "", collected)
    return dict(sorted(collected.items()))


def _collect(folder: Traversable, prefix: str, into: dict[str, bytes]) -> None:
    for entry in folder.iterdir():
        if entry.name in _SKIPPED or entry.name.endswith(".pyc"):
            continue
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            _collect(entry, f"{path}/", into)
        else:
            into[path] = entry.read_bytes()
