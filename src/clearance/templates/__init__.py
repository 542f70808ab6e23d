"""Starter folders for `clearance init --template NAME`: a commented plan and the small
files it names (environment manifest, risk register, rollback procedure, change ticket).

Dates in the shipped files are written relative to the day `init` runs (`{{today-3d}}`), so
a rehearsal or a risk review is as recent in a template used next year as it is today.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable

from clearance.errors import UsageError

__all__ = ["TEMPLATES", "template_files"]

TEMPLATES: dict[str, str] = {
    "tabular-classifier": "A scikit-learn style classifier on tabular data, with fairness "
    "and no-regression criteria",
    "llm-app": "An LLM application (prompt, model configuration, retrieval index) with "
    "quality, safety and red-team criteria",
    "vision-model": "A computer-vision model (image classifier or detector) with accuracy, "
    "per-slice robustness and no-regression criteria",
}

_SKIPPED = {"__pycache__", ".DS_Store"}
_DATE = re.compile(rb"\{\{today(?:([+-])(\d{1,4})d)?\}\}")


def template_files(name: str, today: date | None = None) -> dict[str, bytes]:
    """The files of template `name`, as relative POSIX path -> content, sorted by path, with
    every `{{today}}`, `{{today-Nd}}` or `{{today+Nd}}` written as a date from `today`
    (default: the local date now)."""
    if name not in TEMPLATES:
        known = ", ".join(sorted(TEMPLATES))
        raise UsageError(f'unknown template "{name}"; choose one of: {known}')
    root = files("clearance.templates") / name
    collected: dict[str, bytes] = {}
    _collect(root, "", collected)
    day = today or date.today()
    return {path: _render(data, day) for path, data in sorted(collected.items())}


def _render(data: bytes, today: date) -> bytes:
    def written(match: re.Match[bytes]) -> bytes:
        sign, days = match.group(1), int(match.group(2) or 0)
        offset = timedelta(days=-days if sign == b"-" else days)
        return (today + offset).isoformat().encode()

    return _DATE.sub(written, data)


def _collect(folder: Traversable, prefix: str, into: dict[str, bytes]) -> None:
    for entry in folder.iterdir():
        if entry.name in _SKIPPED or entry.name.endswith(".pyc"):
            continue
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            _collect(entry, f"{path}/", into)
        else:
            into[path] = entry.read_bytes()
